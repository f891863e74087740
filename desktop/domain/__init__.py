"""Pure rules shared by the app and the server: no Qt, no I/O, no sessions."""
