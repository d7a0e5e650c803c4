"""Starting on PostgreSQL: no generated credentials (the gateway names what is missing and writes no
credentials file), and `sslmode` as an operator expects it — `require` speaks TLS, `verify-full`
refuses a certificate it cannot check, `disable` does not reach a server that demands TLS."""
import os
import pathlib
import shutil
import subprocess

import cluster_support


def run(binary, args, env, cwd, timeout=60):
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HTTP_PORT": str(cluster_support.free_port()), **env}
    return subprocess.run([str(binary), *args], env=full, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_replicas_get_no_generated_credentials(binary, database, tmp_path):
    result = run(binary, ["serve"], {"DATABASE_URL": database}, tmp_path)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    for name in ("SCHEDULER_API_KEYS", "ATTENDANT_JWT_SECRET", "OUTBOX_KEY"):
        assert name in message, message
    assert not any(tmp_path.rglob("credentials.env")), "no credentials file is written on PostgreSQL"
    # With two of the three set, the message names only the third.
    partial = {"DATABASE_URL": database, "SCHEDULER_API_KEYS": cluster_support.SECRETS["SCHEDULER_API_KEYS"],
               "OUTBOX_KEY": cluster_support.SECRETS["OUTBOX_KEY"]}
    result = run(binary, ["serve"], partial, tmp_path)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "ATTENDANT_JWT_SECRET" in message and "SCHEDULER_API_KEYS" not in message.split("set", 1)[-1], message


def test_sslmode_require_speaks_tls_and_verify_full_checks_the_certificate(binary, tmp_path):
    cluster = cluster_support.PostgresCluster()
    try:
        cluster.init().start().create_role()
        # A self-signed certificate, TLS on, and plain connections from the gateway's role refused.
        key, cert = cluster.base / "server.key", cluster.base / "server.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        for path in (key, cert):
            shutil.chown(path, "postgres", "postgres")
        os.chmod(key, 0o600)
        hba = cluster.data / "pg_hba.conf"
        hba.write_text("hostnossl all gateway 127.0.0.1/32 reject\n" + hba.read_text())
        cluster.psql(f"ALTER SYSTEM SET ssl_cert_file = '{cert}'")
        cluster.psql(f"ALTER SYSTEM SET ssl_key_file = '{key}'")
        cluster.psql("ALTER SYSTEM SET ssl = on")
        cluster.psql("SELECT pg_reload_conf()")
        url = cluster.create_database("tls_modes").split("?")[0]
        env = {"DATABASE_TIMEOUT_SECONDS": "3"}

        required = run(binary, ["migrate"], {**env, "DATABASE_URL": url + "?sslmode=require"}, tmp_path)
        assert required.returncode == 0, required.stdout + required.stderr
        assert "migrations applied" in required.stdout + required.stderr

        plain = run(binary, ["migrate"], {**env, "DATABASE_URL": url + "?sslmode=disable"}, tmp_path)
        assert plain.returncode != 0, "a server that refuses plain connections is not reached without TLS"

        checked = run(binary, ["migrate"], {**env, "DATABASE_URL": url + "?sslmode=verify-full"}, tmp_path)
        assert checked.returncode != 0, "a self-signed certificate is not trusted by verify-full"
        for result in (plain, checked):
            assert cluster.password not in result.stdout + result.stderr, "the password is never printed"
    finally:
        cluster.destroy()
