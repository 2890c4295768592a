"""Local-first defaults for a bare `mitmdump -s addon/headroom.py`.

mitmproxy listens on every interface and keeps its CA in ~/.mitmproxy by default. Headroom
listens on loopback only and keeps its CA under HEADROOM_HOME (which `headroom wrap` trusts),
unless the user chose otherwise on the command line.
"""

from __future__ import annotations

import os

from addon.proxy.home import confdir, headroom_home, private_dir

MITMPROXY_DEFAULT_CONFDIR = "~/.mitmproxy"


class LocalDefaults:
    def load(self, loader) -> None:
        # Scripts load before the proxy server starts, so these apply to the first listen.
        options = loader.master.options
        if options.listen_host == "":
            options.update(listen_host="127.0.0.1")
        if options.confdir == MITMPROXY_DEFAULT_CONFDIR:
            options.update(confdir=os.fspath(private_dir(confdir(headroom_home()))))
