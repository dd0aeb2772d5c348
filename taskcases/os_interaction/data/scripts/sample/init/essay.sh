#!/bin/bash
# A text of a random number of words over a random number of lines.
words=(the memory agent shell file count stream test answer kernel)
lines=$((RANDOM % 20 + 5))
for ((line = 1; line <= lines; line++)); do
    text=""
    for ((w = 0; w <= RANDOM % 12; w++)); do text="$text ${words[$((RANDOM % ${#words[@]}))]}"; done
    echo "$text"
done > /root/essay.txt
