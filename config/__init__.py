"""Configuration: the settings every ValueGate process reads from its environment."""
