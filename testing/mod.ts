/**
 * Test support shared by the unit tests beside their modules and the
 * cross-role tests in tests/: the real MySQL, Redis and SMTP the tests run
 * against, free ports, temp dirs, `eventually`, child processes of main.ts
 * (kit.ts), the WebSocket test client (ws_client.ts with its inbox,
 * client_inbox.ts; ws_connect.ts; raw_socket.ts), and configs, deps and
 * loggers for starting a role in-process (server.ts), a TLS certificate
 * (tls.ts), and the measuring scripts' number flags (flags.ts, imported on its own). Nothing a running
 * server or CLI loads imports this folder.
 */
export * from "./kit.ts";
export * from "./server.ts";
export * from "./tls.ts";
export * from "./ws_client.ts";
export * from "./ws_connect.ts";
export * from "./raw_socket.ts";
