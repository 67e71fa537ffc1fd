"""ValueGate application shell: settings, the `valuegate` command, the dev stack and the worker."""
