useradd -m -d /home/deploy -s /bin/bash deploy
