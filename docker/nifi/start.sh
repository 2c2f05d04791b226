#!/bin/sh -e
# Runs before the official image's start script (../scripts/start.sh), as the nifi user:
# 1. NiFi's TLS key pair, made once with keytool and kept in the conf volume, for the names its
#    clients use (NIFI_HOST, localhost, 127.0.0.1). Its certificate goes to the nifi-ca volume so
#    nifi-init verifies NiFi instead of switching verification off (the embedded platform does
#    the same in flightdelay/nifi/config.py).
# 2. Our Python processors' folder as an extra extension source directory.
conf="${NIFI_HOME}/conf"
props="${conf}/nifi.properties"
keystore="${conf}/flightdelay-keystore.p12"
truststore="${conf}/flightdelay-truststore.p12"
cert="${conf}/flightdelay-cert.pem"
host="${NIFI_HOST:-$(hostname)}"
keytool="${JAVA_HOME:+${JAVA_HOME}/bin/}keytool"

set_prop() {  # set_prop KEY VALUE: replace the line, or append it (idempotent)
    if grep -q "^$1=" "${props}"; then
        sed -i -e "s|^$1=.*$|$1=$2|" "${props}"
    else
        echo "$1=$2" >> "${props}"
    fi
}

if [ ! -f "${keystore}" ]; then
    password="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    rm -f "${truststore}" "${cert}"
    "${keytool}" -genkeypair -alias nifi-key -keyalg RSA -keysize 2048 -validity 3650 \
        -dname "CN=${host}, OU=NiFi, O=flightdelay" -ext "SAN=dns:${host},dns:localhost,ip:127.0.0.1" \
        -storetype PKCS12 -keystore "${keystore}" -storepass "${password}" -keypass "${password}"
    "${keytool}" -exportcert -rfc -alias nifi-key -keystore "${keystore}" -storepass "${password}" -file "${cert}"
    "${keytool}" -importcert -noprompt -alias nifi-cert -file "${cert}" \
        -storetype PKCS12 -keystore "${truststore}" -storepass "${password}"
    # the passwords live only in nifi.properties, in the same volume as the stores
    set_prop nifi.security.keystore "${keystore}"
    set_prop nifi.security.keystoreType PKCS12
    set_prop nifi.security.keystorePasswd "${password}"
    set_prop nifi.security.keyPasswd "${password}"
    set_prop nifi.security.truststore "${truststore}"
    set_prop nifi.security.truststoreType PKCS12
    set_prop nifi.security.truststorePasswd "${password}"
fi
cp "${cert}" /opt/nifi/ca/nifi-cert.pem

set_prop nifi.python.extensions.source.directory.flightdelay /opt/nifi/flightdelay/python_extensions

exec /opt/nifi/scripts/start.sh "$@"
