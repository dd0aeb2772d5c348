#!/bin/bash
# Three files of random whole numbers, one per line.
mkdir -p /root/data
for name in numbers prices payments; do
    count=$((RANDOM % 40 + 10))
    for ((i = 1; i <= count; i++)); do
        echo $((RANDOM % 1000))
    done > "/root/data/$name.txt"
done
