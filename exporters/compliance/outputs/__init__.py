"""Where formatted compliance lines go: stderr/stdout, files, syslog over UDP/TCP/TLS."""
