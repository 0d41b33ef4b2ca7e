// Wallet discovery and sign-in. EIP-6963 lets every installed wallet announce itself (so the
// user can pick one when there are several); `window.ethereum` (EIP-1193) is the fallback.
import { getJSON, postJSON } from "./api.js";
import { buildSiweMessage, isoNow, SIWE_STATEMENT, toChecksumAddress, utf8ToHex } from "./siwe.js";

const announced = new Map(); // uuid -> {info, provider}
const subscribers = new Set();

window.addEventListener("eip6963:announceProvider", (event) => {
  const detail = event.detail;
  if (!detail || !detail.info || !detail.provider || typeof detail.provider.request !== "function") return;
  announced.set(detail.info.uuid || detail.info.rdns || detail.info.name, Object.freeze(detail));
  subscribers.forEach((fn) => fn(listWallets()));
});

/** Ask installed wallets to announce themselves (EIP-6963). */
export function requestWallets() {
  window.dispatchEvent(new Event("eip6963:requestProvider"));
}

/** The wallets known now: EIP-6963 announcements, else the legacy `window.ethereum`. */
export function listWallets() {
  const wallets = [...announced.values()].map(({ info, provider }) => ({
    id: info.uuid || info.rdns || info.name,
    name: info.name || "Wallet",
    icon: typeof info.icon === "string" && info.icon.startsWith("data:image/") ? info.icon : "",
    provider,
  }));
  if (!wallets.length && window.ethereum && typeof window.ethereum.request === "function") {
    wallets.push({ id: "injected", name: guessName(window.ethereum), icon: "", provider: window.ethereum });
  }
  return wallets;
}

/** Wait briefly for announcements that arrive after the request (wallets answer async). */
export async function discoverWallets(waitMs = 300) {
  requestWallets();
  if (announced.size) return listWallets();
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  return listWallets();
}

export function onWalletsChanged(fn) {
  subscribers.add(fn);
}

function guessName(provider) {
  if (provider.isRabby) return "Rabby";
  if (provider.isCoinbaseWallet) return "Coinbase Wallet";
  if (provider.isBraveWallet) return "Brave Wallet";
  if (provider.isMetaMask) return "MetaMask";
  return "Browser wallet";
}

/** An error a person can act on, from an EIP-1193 provider error. */
export class WalletError extends Error {
  constructor(kind, message, cause) {
    super(message);
    this.name = "WalletError";
    this.kind = kind;
    this.cause = cause;
  }
}

function walletError(err, step) {
  const code = err && (err.code ?? (err.data && err.data.code));
  if (code === 4001 || code === "ACTION_REJECTED") {
    return step === "sign"
      ? new WalletError("rejected", "You declined the signature request. Signing is free and proves you own the address; nothing is sent on-chain. Press Connect to try again.", err)
      : new WalletError("rejected", "You declined the connection request in your wallet. Press Connect to try again.", err);
  }
  if (code === -32002) {
    return new WalletError("pending", "Your wallet already has a request waiting. Open the wallet and answer it.", err);
  }
  if (code === 4100) {
    return new WalletError("unauthorized", "The wallet did not allow this site to use the account. Unlock it and try again.", err);
  }
  return new WalletError("failed", `The wallet reported an error: ${(err && err.message) || err}`, err);
}

/**
 * Connect `provider`, sign the EIP-4361 message for this page's origin and exchange it for
 * the session cookies.
 * @param {object} provider an EIP-1193 provider
 * @param {number[]} chainIds chains the service accepts (GET /config)
 * @returns {Promise<{address: string, chainId: number}>}
 */
export async function signIn(provider, chainIds) {
  let accounts;
  try {
    accounts = await provider.request({ method: "eth_requestAccounts" });
  } catch (err) {
    throw walletError(err, "connect");
  }
  if (!accounts || !accounts.length) {
    throw new WalletError("no_account", "The wallet has no account to sign in with. Create or unlock one.");
  }
  const address = toChecksumAddress(accounts[0]);
  const chainId = await pickChain(provider, chainIds);
  const { nonce } = await getJSON("/auth/siwe/nonce", { retry: false });
  const message = buildSiweMessage({
    domain: location.host,
    address,
    statement: SIWE_STATEMENT,
    uri: location.origin,
    chainId,
    nonce,
    issuedAt: isoNow(),
  });
  let signature;
  try {
    signature = await provider.request({ method: "personal_sign", params: [utf8ToHex(message), address] });
  } catch (err) {
    throw walletError(err, "sign");
  }
  return postJSON("/auth/siwe/verify", { message, signature }, { retry: false });
}

/** The wallet's current chain when the service accepts it, else the service's first chain. */
async function pickChain(provider, chainIds) {
  try {
    const hex = await provider.request({ method: "eth_chainId" });
    const current = Number.parseInt(hex, 16);
    if (chainIds.includes(current)) return current;
  } catch {
    // A wallet that cannot tell its chain still signs; the chain id is only a claim here.
  }
  return chainIds[0];
}
