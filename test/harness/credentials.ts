// Throwaway credentials for a test control plane: the ServiceAccount signing key pair (so TokenRequest can mint
// tokens) and a static admin token in system:masters (so no client certificate authority is needed).
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Credentials {
  readonly serviceAccountPublicKey: string;
  readonly serviceAccountPrivateKey: string;
  readonly tokenAuthFile: string;
  readonly adminToken: string;
}

export function writeCredentials(dir: string): Credentials {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  const credentials: Credentials = {
    serviceAccountPublicKey: join(dir, "sa.pub"),
    serviceAccountPrivateKey: join(dir, "sa.key"),
    tokenAuthFile: join(dir, "tokens.csv"),
    adminToken: randomBytes(24).toString("hex"),
  };
  writeFileSync(credentials.serviceAccountPublicKey, publicKey, { mode: 0o600 });
  writeFileSync(credentials.serviceAccountPrivateKey, privateKey, { mode: 0o600 });
  // token,user,uid,"group1,group2"
  writeFileSync(credentials.tokenAuthFile, `${credentials.adminToken},admin,admin,"system:masters"\n`, { mode: 0o600 });
  return credentials;
}
