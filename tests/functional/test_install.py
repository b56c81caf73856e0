"""`make install-files` (what `make install` runs after the release build) into a staging
folder: the binary, the systemd unit pointing at it, the docs, and a config.json that
`ossftp config check` accepts and that a second install leaves alone."""

from __future__ import annotations

import configparser
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from ossftp_server import REPO_ROOT, ossftp_binary


def install(destdir, prefix="/opt/ossftp"):
    return subprocess.run(["make", "-s", "install-files", f"DESTDIR={destdir}", f"PREFIX={prefix}",
                           f"INSTALL_BIN={ossftp_binary()}"], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)


def test_install_stages_binary_unit_docs_and_config(tmp_path):
    result = install(tmp_path)
    assert result.returncode == 0, result.stderr
    binary = tmp_path / "opt/ossftp/bin/ossftp"
    assert binary.stat().st_mode & 0o777 == 0o755
    version = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=30)
    assert version.returncode == 0 and version.stdout.startswith("ossftp ")

    unit_path = tmp_path / "etc/systemd/system/ossftp.service"
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(unit_path)
    service = unit["Service"]
    assert service["ExecStart"] == "/opt/ossftp/bin/ossftp serve --config /etc/ossftp/config.json"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["RestartPreventExitStatus"] == "64 78"
    # A static user that owns config.json: a DynamicUser could not read a root-owned 0600 file.
    assert service["User"] == "ossftp" and "DynamicUser" not in service
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert (tmp_path / "opt/ossftp/share/doc/ossftp/CONFIG.md").is_file()

    config = tmp_path / "etc/ossftp/config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    check = subprocess.run([str(binary), "config", "check", str(config)], capture_output=True, text=True,
                           timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr

    # The service's user, owning the file as `make install` leaves it, can read it (a copy in
    # a folder that user can reach; pytest's own are root's alone).
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)
        owned = Path(folder) / "config.json"
        shutil.copy(config, owned)
        os.chmod(owned, 0o600)
        os.chown(owned, 65534, 65534)
        as_user = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(ossftp_binary()),
                                  "config", "check", str(owned)], capture_output=True, text=True, timeout=30)
        assert as_user.returncode == 0, as_user.stdout + as_user.stderr

    # A second install keeps the operator's config.json.
    config.write_text(config.read_text().replace('"port": 2048', '"port": 2121'))
    assert install(tmp_path).returncode == 0
    assert '"port": 2121' in config.read_text()
    assert os.access(binary, os.X_OK)
