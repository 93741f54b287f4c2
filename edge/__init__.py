"""The Raspberry Pi (linux-aarch64) target: offline wheelhouse, package builder, install/rollback
scripts, systemd unit, on-device service and deploy over SSH."""

# The service's port unless the package or the device says otherwise (unassigned by IANA).
DEFAULT_PORT = 8357
