/** A throwaway TLS certificate for tests that run a server with TLS (openssl). */
import { tempDir } from "./kit.ts";

/** A certificate for localhost and 127.0.0.1, and the throwaway CA that signed it (openssl). */
export async function testCertificate(): Promise<{ cert: string; key: string; ca: string }> {
  const dir = await tempDir();
  const openssl = async (...args: string[]) => {
    const out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" })
      .output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  };
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"];
  const p = (name: string) => `${dir.path}/${name}`;
  try {
    await openssl(
      "req",
      "-x509",
      ...key,
      "-keyout",
      p("ca.key"),
      "-out",
      p("ca.pem"),
      "-subj",
      "/CN=ca",
    );
    await openssl(
      ...["req", "-x509", ...key, "-keyout", p("key.pem"), "-out", p("cert.pem")],
      ...["-subj", "/CN=localhost", "-CA", p("ca.pem"), "-CAkey", p("ca.key")],
      ...["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
      ...["-addext", "basicConstraints=critical,CA:FALSE"],
    );
    const read = (name: string) => Deno.readTextFile(p(name));
    return { cert: await read("cert.pem"), key: await read("key.pem"), ca: await read("ca.pem") };
  } finally {
    await dir.remove();
  }
}
