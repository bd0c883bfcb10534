"""Tunnel over wss with mutual TLS as a second factor: verified certificates
whose CN is the agent name get in; a foreign CA, or a certificate for another
name, does not (whatever the key)."""
import socket

from conftest import free_port
from tunnel_util import Server, echo_handler, key_hash, read_all, wait_connected


def tls_gateway(outpost, tmp_path, pki, rules):
    return outpost("gateway", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                   "--data-dir", str(tmp_path / "gw"), "--api-token", "admintoken",
                   "--tls-cert", pki["server.pem"], "--tls-key", pki["server.key"],
                   "--tls-ca", pki["ca.pem"],
                   "--agent", f"name=client key-hash={key_hash('k1')}",
                   "--agent", f"name=server2 key-hash={key_hash('k2')}",
                   "--agent", f"name=server key-hash={key_hash('k3')}",
                   *sum((["--rule", r] for r in rules), []))


def tls_agent(outpost, tmp_path, gw, pki, name, key, cert, *extra):
    port = gw.addr()[1]
    return outpost("agent", "--gateway", f"wss://127.0.0.1:{port}/tunnel", "--name", name,
                   "--key", key, "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / name),
                   "--api-token", "agenttoken", "--tls-ca", pki["ca.pem"],
                   "--tls-cert", pki[f"{cert}.pem"], "--tls-key", pki[f"{cert}.key"],
                   "--reconnect-min", "100ms", "--reconnect-max", "500ms", *extra)


def test_wss_mutual_tls(outpost, tmp_path, pki):
    echo = Server(echo_handler)
    gw = tls_gateway(outpost, tmp_path, pki, ["from=client to=server2 net=127.0.0.1 ports=*"])
    b = tls_agent(outpost, tmp_path, gw, pki, "server2", "k2", "server2",
                  "--allow", "net=127.0.0.1 ports=*")
    fport = free_port()
    a = tls_agent(outpost, tmp_path, gw, pki, "client", "k1", "client",
                  "--forward", f"local={fport} gateway=server2 ip=127.0.0.1 remote={echo.port}")
    wait_connected(a)
    wait_connected(b)
    payload = bytes(range(256)) * 4000
    with socket.create_connection(("127.0.0.1", fport), timeout=10) as c:
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        assert read_all(c) == payload
    # a certificate for another name: right key, wrong identity
    wrong = tls_agent(outpost, tmp_path / "w", gw, pki, "server", "k3", "client")
    wrong.wait_for(r"gateway_login_failed .*authentication failed")
    gw.wait_for(r"agent_auth_failed addr=127\.0\.0\.1 failures=1 .*agent=server "
                r"reason=\"certificate CN 'client' is not the agent name\"")
    # a certificate from a foreign CA never gets past TLS
    rogue = tls_agent(outpost, tmp_path / "r", gw, pki, "client", "k1", "rogue")
    rogue.wait_for(r"gateway_connect_failed")
    echo.close()


def test_wss_server_verification_and_insecure(outpost, tmp_path, pki):
    """Over wss an agent verifies the gateway's certificate (against --tls-ca,
    or the system's CAs); --insecure skips that check, as its help says,
    with a warning."""
    from conftest import run_outpost
    gw = outpost("gateway", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                 "--data-dir", str(tmp_path / "gw"), "--api-token", "admintoken",
                 "--tls-cert", pki["server.pem"], "--tls-key", pki["server.key"],
                 "--agent", f"name=client key-hash={key_hash('k1')}")
    url = f"wss://127.0.0.1:{gw.addr()[1]}/tunnel"
    common = ["--name", "client", "--key", "k1", "--listen", "127.0.0.1:0",
              "--api-token", "agenttoken", "--reconnect-min", "100ms", "--reconnect-max", "500ms"]
    untrusted = outpost("agent", "--gateway", url, "--data-dir", str(tmp_path / "u"), *common)
    untrusted.wait_for(r"gateway_connect_failed")
    untrusted.stop()
    trusting = outpost("agent", "--gateway", url, "--data-dir", str(tmp_path / "t"),
                       "--tls-ca", pki["ca.pem"], *common)
    wait_connected(trusting)
    trusting.stop()
    blind = outpost("agent", "--gateway", url, "--data-dir", str(tmp_path / "i"), "--insecure",
                    *common)
    blind.wait_for(r"insecure .*certificate is not verified")
    wait_connected(blind)
    help_line = [x for x in run_outpost("agent", "--help").stdout.splitlines()
                 if x.strip().startswith("--insecure")][0]
    assert "certificate" in help_line
