#!/bin/bash
# Three service logs with a random number of lines at random levels.
levels=(INFO INFO INFO DEBUG WARN ERROR)
services=(api db web)
mkdir -p /var/log/app
for service in "${services[@]}"; do
    lines=$((RANDOM % 150 + 100))
    for ((i = 1; i <= lines; i++)); do
        level=${levels[$((RANDOM % ${#levels[@]}))]}
        echo "2024-05-$((RANDOM % 28 + 1)) 12:$((RANDOM % 60)):$((RANDOM % 60)) $level $service request $i took $((RANDOM % 900)) ms"
    done > "/var/log/app/$service.log"
done
