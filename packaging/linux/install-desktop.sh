#!/bin/sh
# Put Bullpen in the desktop's application menu for the current user (no root needed):
# a `bullpen` link in ~/.local/bin, the icon and the .desktop entry. Run it from the unpacked
# bundle folder; run it again after moving the folder. Uninstall: --remove.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin="${XDG_BIN_HOME:-$HOME/.local/bin}"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
if [ "${1:-}" = "--remove" ]; then
    rm -f "$bin/bullpen" "$data/applications/bullpen.desktop" \
          "$data/icons/hicolor/256x256/apps/bullpen.png" \
          "$data/icons/hicolor/scalable/apps/bullpen.svg"
    echo "Bullpen removed from the menu (your profile and data are kept)."
    exit 0
fi
mkdir -p "$bin" "$data/applications" "$data/icons/hicolor/256x256/apps" \
         "$data/icons/hicolor/scalable/apps"
ln -sf "$here/bullpen" "$bin/bullpen"
cp "$here/share/icons/bullpen-256.png" "$data/icons/hicolor/256x256/apps/bullpen.png"
cp "$here/share/icons/bullpen.svg" "$data/icons/hicolor/scalable/apps/bullpen.svg"
sed "s|^Exec=bullpen|Exec=$here/bullpen|; s|^TryExec=bullpen|TryExec=$here/bullpen|" \
    "$here/share/applications/bullpen.desktop" > "$data/applications/bullpen.desktop"
command -v update-desktop-database >/dev/null 2>&1 \
    && update-desktop-database "$data/applications" >/dev/null 2>&1 || true
echo "Bullpen is in the application menu; \`bullpen\` is in $bin"
