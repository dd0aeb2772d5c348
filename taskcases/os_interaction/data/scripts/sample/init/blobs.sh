#!/bin/bash
# Two folders of files with distinct random sizes.
for folder in /var/cache/blobs /opt/media/clips; do
    mkdir -p "$folder"
    i=0
    for size in $(shuf -i 1-400 -n 6); do
        i=$((i + 1))
        head -c $((size * 100)) /dev/zero > "$folder/item$i.bin"
    done
done
