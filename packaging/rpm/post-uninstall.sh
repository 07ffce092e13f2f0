# kefu's %postun ($1: 0 on erase, 1 on upgrade). An erase keeps /etc/kefu and /var/lib/kefu
# (RPM has no purge: delete them by hand); an upgrade restarts a running service.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart kefu.service >/dev/null 2>&1 || :
    fi
fi
