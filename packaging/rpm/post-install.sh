# kefu's %post ($1: 1 on install, 2 on upgrade). The same steps as packaging/debian/postinst:
# the `kefu` user, /etc/kefu/kefu.toml with fresh secrets when absent (never replaced),
# /var/lib/kefu. The unit follows the distribution's presets (`systemctl enable --now kefu`).
if command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers kefu.conf
elif ! getent passwd kefu >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/kefu --no-create-home \
        --shell /sbin/nologin --comment "Kefu customer-service server" kefu
fi
install -d -o kefu -g kefu -m 0750 /var/lib/kefu
install -d -o root -g kefu -m 0750 /etc/kefu
if [ ! -e /etc/kefu/kefu.toml ]; then
    /usr/bin/kefu config init /etc/kefu/kefu.toml --data-dir /var/lib/kefu >/dev/null
    chown root:kefu /etc/kefu/kefu.toml
    chmod 0640 /etc/kefu/kefu.toml
    echo "kefu: wrote /etc/kefu/kefu.toml (fresh secrets; listens on 127.0.0.1:8080)."
    echo "kefu: next, create the first admin (the password is read from stdin):"
    echo "  runuser -u kefu -- kefu --config /etc/kefu/kefu.toml agent add --username admin --role admin"
    echo "kefu: then \`systemctl enable --now kefu\`; see /usr/share/doc/kefu/README.md"
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -eq 1 ]; then
        systemctl --no-reload preset kefu.service >/dev/null 2>&1 || :
    fi
fi
