#!/bin/bash
# Directory trees holding a random number of files of one extension, plus files of other extensions.
make_tree() {
    local root=$1 extension=$2 decoy=$3 top=$((RANDOM % 6 + 1)) deep=$((RANDOM % 6 + 1)) other=$((RANDOM % 4 + 1))
    mkdir -p "$root/a/b" "$root/c"
    for ((i = 1; i <= top; i++)); do echo "$i" > "$root/top$i.$extension"; done
    for ((i = 1; i <= deep; i++)); do echo "$i" > "$root/a/b/deep$i.$extension"; done
    for ((i = 1; i <= other; i++)); do echo "$i" > "$root/c/other$i.$decoy"; done
    echo x > "$root/c/not-$extension"
}
make_tree /srv/docs txt pdf
make_tree /srv/notes md txt
make_tree /etc/myapp conf bak
