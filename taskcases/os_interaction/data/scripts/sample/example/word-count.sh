wc -w < /root/essay.txt > /root/wordcount.txt
