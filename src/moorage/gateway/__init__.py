"""Access to workspaces: websocket bridges and proxies, authenticated per lease."""
