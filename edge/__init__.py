"""The Raspberry Pi (linux-aarch64) target: offline wheelhouse, package builder, install/rollback
scripts, systemd unit, on-device service and deploy over SSH."""
