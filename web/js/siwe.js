// Sign-In with Ethereum (EIP-4361): the message text the service verifies, EIP-55 addresses,
// and the EIP-191 `personal_sign` encoding helpers shared with the test wallet.
import { keccak_256 } from "../vendor/noble-hashes/sha3.js";

const encoder = new TextEncoder();

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function hexToBytes(hex) {
  const clean = hex.startsWith("0x") ? hex.slice(2) : hex;
  if (clean.length % 2 || /[^0-9a-fA-F]/.test(clean)) throw new Error("not a hex string");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}

/** `personal_sign` takes the message as 0x-hex of its UTF-8 bytes (what wallets expect). */
export function utf8ToHex(text) {
  return "0x" + bytesToHex(encoder.encode(text));
}

/** EIP-55 mixed-case checksum of a 20-byte address. */
export function toChecksumAddress(address) {
  const lower = address.toLowerCase().replace(/^0x/, "");
  if (!/^[0-9a-f]{40}$/.test(lower)) throw new Error("not an Ethereum address: " + address);
  const hash = bytesToHex(keccak_256(encoder.encode(lower)));
  let out = "0x";
  for (let i = 0; i < 40; i++) {
    out += parseInt(hash[i], 16) >= 8 ? lower[i].toUpperCase() : lower[i];
  }
  return out;
}

/** EIP-191 version 0x45 digest: keccak256("\x19Ethereum Signed Message:\n" + len + message). */
export function personalMessageHash(messageBytes) {
  const prefix = encoder.encode(`\x19Ethereum Signed Message:\n${messageBytes.length}`);
  const all = new Uint8Array(prefix.length + messageBytes.length);
  all.set(prefix);
  all.set(messageBytes, prefix.length);
  return keccak_256(all);
}

/** RFC 3339 UTC timestamp without fractional seconds, as EIP-4361 shows it. */
export function isoNow(date = new Date()) {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * The EIP-4361 message. Domain and URI come from the page's own origin: the service checks
 * the domain against its SIWE_DOMAIN and that the URI lies within that origin.
 */
export function buildSiweMessage({ domain, address, statement, uri, chainId, nonce, issuedAt }) {
  const lines = [`${domain} wants you to sign in with your Ethereum account:`, address, ""];
  if (statement) lines.push(statement, "");
  lines.push(
    `URI: ${uri}`,
    "Version: 1",
    `Chain ID: ${chainId}`,
    `Nonce: ${nonce}`,
    `Issued At: ${issuedAt}`,
  );
  return lines.join("\n");
}

export const SIWE_STATEMENT =
  "Sign in to Web3 Chat Roulette. This does not send a transaction or cost any gas.";
