"""The waiting-room board (`clinic board`): calls, the next tokens per room, chime and voice."""
