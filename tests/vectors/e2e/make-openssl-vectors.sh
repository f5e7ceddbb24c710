set -e
T0=2026-11-22T12:00:00.000Z
mk_cpim() { # $1 body
printf 'Content-Type: Message/CPIM\r\n\r\nFrom: Juliet Capulet <im:juliet@example.com>\r\nTo: Romeo Montague <im:romeo@example.net>\r\nDateTime: %s\r\nSubject: Imploring\r\n\r\nContent-Type: text/plain; charset=utf-8\r\nContent-ID: <1234567890@example.com>\r\n\r\n%s\r\n' "$T0" "$1"
}
mk_cpim "Wherefore art thou, Romeo?" > cpim.txt
W=/tmp/e2e/w; mkdir -p $W
openssl cms -sign -binary -crlfeol -in cpim.txt -signer juliet.pem -inkey juliet.key -md sha1 -out $W/s1.smime
openssl cms -encrypt -binary -crlfeol -aes128 -in $W/s1.smime -out openssl-sha1-aes128.smime romeo.pem
openssl cms -sign -binary -crlfeol -in cpim.txt -signer juliet.pem -inkey juliet.key -md sha256 -keyopt rsa_padding_mode:pss -out $W/s2.smime
openssl cms -encrypt -binary -crlfeol -aes256 -in $W/s2.smime -out openssl-sha256-pss-aes256.smime romeo.pem
openssl cms -sign -binary -crlfeol -in cpim.txt -signer juliet.pem -inkey juliet.key -md sha256 -out openssl-sha256-signed.smime
openssl cms -sign -binary -crlfeol -nodetach -in cpim.txt -signer juliet.pem -inkey juliet.key -md sha256 -out openssl-sha256-attached.smime
