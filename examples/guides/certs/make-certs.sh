#!/bin/sh
# Makes the example certificates the guides use (docs/guides/gateways.md,
# docs/guides/destination-rules.md). They are committed so the guides work offline; run this
# to make fresh ones. FOR THE GUIDES ONLY: the private keys are public.
#
#   ca.crt / ca.key                 a CA ("Isthmus guides CA")
#   example.com.crt / .key          server certificate for example.com and *.example.com
#   client.crt / client.key         client certificate (CN=guide-client) for mutual TLS
#   credentials/example-com/        the server pair as Kubernetes mounts a TLS secret
#                                   (tls.crt, tls.key), for Gateway credentialName
#   credentials/example-com-cacert/ ca.crt, the CA that client certificates must chain to
set -eu
cd "$(dirname "$0")"
days=36500
openssl req -x509 -newkey rsa:2048 -nodes -days $days -subj '/CN=Isthmus guides CA' -keyout ca.key -out ca.crt
openssl req -newkey rsa:2048 -nodes -subj '/CN=example.com' -keyout example.com.key -out example.com.csr
printf 'subjectAltName=DNS:example.com,DNS:*.example.com\n' > example.com.ext
openssl x509 -req -in example.com.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days $days -extfile example.com.ext -out example.com.crt
openssl req -newkey rsa:2048 -nodes -subj '/CN=guide-client' -keyout client.key -out client.csr
printf 'subjectAltName=URI:spiffe://cluster.local/ns/default/sa/guide-client\nextendedKeyUsage=clientAuth\n' > client.ext
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days $days -extfile client.ext -out client.crt
rm -f ./*.csr ./*.ext ca.srl
mkdir -p credentials/example-com credentials/example-com-cacert
cp example.com.crt credentials/example-com/tls.crt
cp example.com.key credentials/example-com/tls.key
cp ca.crt credentials/example-com-cacert/ca.crt
