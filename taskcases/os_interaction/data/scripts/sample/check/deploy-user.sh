#!/bin/bash
# The user exists and has a home directory of its own.
id deploy > /dev/null 2>&1 || exit 1
home=$(getent passwd deploy | cut -d: -f6)
[ "$home" = /home/deploy ] && [ -d /home/deploy ] && [ "$(stat -c %U /home/deploy)" = deploy ]
