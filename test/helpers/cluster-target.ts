// The `servers` jest project runs the HTTP suites against a multi-process cluster, where
// starting a system (a process per service) and each call over NATS take longer.
process.env.MOLETOK_TARGET = "cluster";
jest.setTimeout(60000);
