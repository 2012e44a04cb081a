"""Live updates over Server-Sent Events: pages say what they show, the stream
says when it changed."""

from web.live.markers import page_marker
from web.live.routes import page_headers

__all__ = [
    "page_headers", "page_marker",
]
