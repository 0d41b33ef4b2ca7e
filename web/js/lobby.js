// The lobby's own pieces: chain picker, interest tags, and the safety notice accepted once.
import { $, chainName } from "./ui.js";

const INTERESTS_KEY = "roulette.interests";
const CHAIN_KEY = "roulette.chainId";
const SAFETY_KEY = "roulette.safetyAccepted.v1";
const MAX_INTERESTS = 10;
const MAX_INTEREST_CHARS = 32;
const SUGGESTIONS = ["defi", "nft", "dao", "gaming", "dev", "art", "music", "trading", "privacy", "l2"];

let interests = loadInterests();

function loadInterests() {
  try {
    const saved = JSON.parse(localStorage.getItem(INTERESTS_KEY) || "[]");
    return Array.isArray(saved) ? saved.filter((t) => typeof t === "string").slice(0, MAX_INTERESTS) : [];
  } catch {
    return [];
  }
}

function normalizeTag(raw) {
  return raw.trim().toLowerCase().replace(/\s+/g, "-").replace(/^#/, "").slice(0, MAX_INTEREST_CHARS);
}

export function getInterests() {
  return [...interests];
}

function setInterests(next) {
  interests = next;
  localStorage.setItem(INTERESTS_KEY, JSON.stringify(interests));
  renderInterests();
}

function addInterest(raw) {
  const tag = normalizeTag(raw);
  if (!tag || interests.includes(tag) || interests.length >= MAX_INTERESTS) return;
  setInterests([...interests, tag]);
}

function renderInterests() {
  const box = $("interest-tags");
  box.replaceChildren(...interests.map((tag) => {
    const chip = document.createElement("span");
    chip.className = "tag";
    chip.textContent = tag;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.setAttribute("aria-label", `Remove ${tag}`);
    remove.textContent = "×";
    remove.onclick = () => setInterests(interests.filter((t) => t !== tag));
    chip.append(remove);
    return chip;
  }));
  $("interest-input").disabled = interests.length >= MAX_INTERESTS;
  $("interest-suggestions").replaceChildren(...SUGGESTIONS.filter((t) => !interests.includes(t)).map((tag) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "suggestion";
    b.textContent = `+ ${tag}`;
    b.onclick = () => addInterest(tag);
    return b;
  }));
}

export function setupInterests() {
  const input = $("interest-input");
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === ",") {
      e.preventDefault();
      addInterest(input.value);
      input.value = "";
    } else if (e.key === "Backspace" && !input.value && interests.length) {
      setInterests(interests.slice(0, -1));
    }
  });
  input.addEventListener("blur", () => {
    if (input.value.trim()) { addInterest(input.value); input.value = ""; }
  });
  renderInterests();
}

/** Fill the chain picker with the chains the service accepts. */
export function setupChains(chainIds, preferred) {
  const select = $("chain-select");
  const saved = Number(localStorage.getItem(CHAIN_KEY));
  const initial = [saved, preferred].find((id) => chainIds.includes(id)) ?? chainIds[0];
  select.replaceChildren(...chainIds.map((id) => new Option(chainName(id), String(id), false, id === initial)));
  select.disabled = chainIds.length < 2;
  select.onchange = () => localStorage.setItem(CHAIN_KEY, select.value);
}

export function getChainId() {
  return Number($("chain-select").value);
}

/** Show the safety notice unless it was accepted before; resolves true once accepted. */
export function ensureSafetyAccepted() {
  if (localStorage.getItem(SAFETY_KEY) === "yes") return Promise.resolve(true);
  const dialog = $("safety-dialog");
  $("safety-check").checked = false;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const ok = dialog.returnValue === "accept" && $("safety-check").checked;
      if (ok) localStorage.setItem(SAFETY_KEY, "yes");
      resolve(ok);
    }, { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}
