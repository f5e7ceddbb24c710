-- xmppsec integration tests: Prosody 0.12 on loopback only.
-- A template: tests/harness/servers.py fills in the at-sign placeholders and writes the result into a fresh
-- state directory per test session. Plaintext c2s with SASL PLAIN (and, for federation,
-- server-to-server with dialback and no TLS on port 5269) is allowed because the only interface
-- is a loopback address (127.0.0.1, or 127.0.N.2 when federated); never use these settings on a
-- reachable interface.
pidfile = "@STATE_DIR@/prosody.pid"
data_path = "@STATE_DIR@/data"
daemonize = false
run_as_root = @RUN_AS_ROOT@
log = { debug = "@STATE_DIR@/prosody.log" }

interfaces = { "@HOST@" }
local_interfaces = { "@HOST@" }
c2s_ports = { @C2S_PORT@ }
c2s_direct_tls_ports = {}
s2s_ports = { @S2S_PORTS@ }
s2s_direct_tls_ports = {}
legacy_ssl_ports = {}
component_ports = { @COMPONENT_PORT@ }
component_interfaces = { "@HOST@" }
http_ports = {}
https_ports = {}

modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "carbons"; "offline"; "mam"; "blocklist"; "pep"; "version"; "time"@S2S_MODULES@ }
modules_disabled = { @MODULES_DISABLED@ }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
storage = "internal"
archive_expires_after = "1d"
default_archive_policy = true
@S2S_SETTINGS@

VirtualHost "@DOMAIN@"

Component "@MUC_DOMAIN@" "muc"
  modules_enabled = { "muc_mam" }
  muc_room_locking = false
  restrict_room_creation = false

-- XEP-0114: `xmppsec component` attaches here (docs/component.md)
Component "@COMPONENT_DOMAIN@"
  component_secret = "@COMPONENT_SECRET@"
