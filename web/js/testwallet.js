// A throwaway in-page EIP-1193 wallet for local development (offered only when GET /config says
// testWalletMode). It holds a random secp256k1 key in this tab's sessionStorage and answers
// `personal_sign` with a real EIP-191 signature, so the service verifies it like any wallet's.
import * as secp from "../vendor/noble-secp256k1/index.js";
import { hmac } from "../vendor/noble-hashes/hmac.js";
import { sha256 } from "../vendor/noble-hashes/sha2.js";
import { keccak_256 } from "../vendor/noble-hashes/sha3.js";
import { bytesToHex, hexToBytes, personalMessageHash, toChecksumAddress } from "./siwe.js";

// The synchronous API needs these; the async one would need WebCrypto, which browsers only
// offer on secure origins (a LAN address over plain http is not one).
secp.hashes.hmacSha256 = (key, msg) => hmac(sha256, key, msg);
secp.hashes.sha256 = sha256;

const STORAGE_KEY = "roulette.testWalletKey";

class ProviderRpcError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function addressOf(secretKey) {
  const publicKey = secp.getPublicKey(secretKey, false); // 0x04 || X || Y
  const hash = keccak_256(publicKey.subarray(1));
  return toChecksumAddress("0x" + bytesToHex(hash.subarray(12)));
}

function loadOrCreateKey() {
  const saved = sessionStorage.getItem(STORAGE_KEY);
  if (saved) return hexToBytes(saved);
  const key = secp.utils.randomSecretKey();
  sessionStorage.setItem(STORAGE_KEY, bytesToHex(key));
  return key;
}

/** EIP-191 personal_sign: 65 bytes r || s || v with v = 27 + recovery id. */
export function personalSign(secretKey, messageBytes) {
  const digest = personalMessageHash(messageBytes);
  const sig = secp.sign(digest, secretKey, { prehash: false, format: "recovered" });
  // noble's "recovered" layout is recovery || r || s.
  const out = new Uint8Array(65);
  out.set(sig.subarray(1, 65), 0);
  out[64] = 27 + sig[0];
  return "0x" + bytesToHex(out);
}

/**
 * Build the test wallet provider.
 * @param {number} chainId the chain it claims to be on
 */
export function createTestWallet(chainId) {
  const secretKey = loadOrCreateKey();
  const address = addressOf(secretKey);
  const listeners = new Map();

  async function request({ method, params = [] }) {
    switch (method) {
      case "eth_requestAccounts":
      case "eth_accounts":
        return [address];
      case "eth_chainId":
        return "0x" + chainId.toString(16);
      case "wallet_switchEthereumChain":
        chainId = parseInt(params[0].chainId, 16);
        return null;
      case "personal_sign": {
        const [data, signer] = params;
        if (signer && signer.toLowerCase() !== address.toLowerCase()) {
          throw new ProviderRpcError(4100, "The test wallet does not hold that account.");
        }
        const bytes = /^0x[0-9a-fA-F]*$/.test(data) ? hexToBytes(data) : new TextEncoder().encode(data);
        return personalSign(secretKey, bytes);
      }
      default:
        throw new ProviderRpcError(4200, `The test wallet does not support ${method}.`);
    }
  }

  return {
    isTestWallet: true,
    address,
    request,
    on(event, fn) { listeners.set(fn, event); },
    removeListener(event, fn) { listeners.delete(fn); },
  };
}

/** Forget the key (sign-out): the next test wallet in this tab is a new one. */
export function forgetTestWallet() {
  sessionStorage.removeItem(STORAGE_KEY);
}
