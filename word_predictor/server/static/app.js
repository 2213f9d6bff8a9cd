// The page: suggestions while typing, accepted by click, Tab or Alt+1/2/3; "write on" streams words.
// Only the latest request's answer is shown (a counter, and the earlier fetch aborted), and the bar is
// replaced only when an answer arrives, so stale suggestions never flash in.
// The tab has a session of its own (a random id): the server learns the words typed here, in its
// memory only; the panel shows what it learned, and "forget" drops it at once.
"use strict";

const box = document.getElementById("text");
const chips = Array.from(document.querySelectorAll(".suggestion"));
const completionLine = document.getElementById("completion");
const offersFor = document.getElementById("offers-for"); // what the chips are for: they never read as the placeholder's
const writeOn = document.getElementById("write-on");
const statusLine = document.getElementById("status");
const learnedList = document.getElementById("learned");
const remembered = document.getElementById("remembered");
const forgetButton = document.getElementById("forget");
const DEBOUNCE_MS = 120;
const SESSION = "tab-" + Array.from(crypto.getRandomValues(new Uint8Array(12)), b => b.toString(16).padStart(2, "0")).join("");
const WORD_END = /[\p{L}\p{N}'-]+$/u; // the word being typed at the end of the text

let model = null;
let latest = 0; // the number of the newest request; answers to older ones are dropped
let inFlight = null; // AbortController of the newest request
let timer = null;
let shown = []; // [{label, insert}] behind the three chips
let completion = null; // a char run's {insert} for the end of the word being typed
let saved = 0;
let streaming = null; // AbortController of "write on"
let learning = false; // whether the server keeps sessions (its /v1/model says)

function withSession(body) {
  return learning ? {...body, session: SESSION} : body;
}

async function post(path, body, signal) {
  const response = await fetch(path, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body), signal,
  });
  if (!response.ok) {
    const answer = await response.json().catch(() => ({error: response.statusText}));
    throw new Error(answer.error || response.statusText);
  }
  return response;
}

function typedWord(text) {
  const match = text.match(WORD_END);
  return match ? match[0] : "";
}

// What each answer offers: the label on the chip and the text that accepting it appends.
function nextWords(text, predictions) {
  const gap = text === "" || /\s$/.test(text) ? "" : " ";
  return predictions.map(p => ({label: p.word, probability: p.probability, insert: gap + p.word + " "}));
}

// The words that finish the one being typed; the typed word itself is no completion of it.
function wordEndings(text, answer, k) {
  const typed = typedWord(text);
  return answer.completions.filter(c => c.word !== answer.prefix).slice(0, k)
    .map(c => ({label: c.word, probability: c.probability, insert: c.word.slice(typed.length) + " "}));
}

function nextCharacters(predictions) {
  const names = {" ": "space", "\n": "new line", "\t": "tab"};
  return predictions.map(p => ({label: names[p.word] || p.word, probability: p.probability, insert: p.word}));
}

async function refresh() {
  const text = box.value;
  const number = ++latest;
  if (inFlight) inFlight.abort();
  inFlight = new AbortController();
  const signal = inFlight.signal;
  const typing = typedWord(text) !== "";
  try {
    let offers, ending = null, label;
    if (model && model.level === "char") {
      const next = post("/v1/suggest", withSession({text, k: 3}), signal).then(r => r.json());
      const word = typing ? post("/v1/complete", withSession({text, k: 2}), signal).then(r => r.json()) : null;
      offers = nextCharacters((await next).predictions);
      const found = word ? wordEndings(text, await word, 1) : [];
      if (found.length) ending = {label: found[0].label, insert: found[0].insert.slice(0, -1)};
      label = text === "" ? "First characters of a new text:" : "Next character:";
    } else if (typing) {
      const answer = await (await post("/v1/complete", withSession({text, k: 4}), signal)).json();
      offers = wordEndings(text, answer, 3);
      label = "Words that finish the one you are typing:";
    } else {
      const answer = await (await post("/v1/suggest", withSession({text, k: 3}), signal)).json();
      offers = nextWords(text, answer.predictions);
      label = text === "" ? "First words of a new text:" : "Next word:";
    }
    if (number !== latest) return; // a newer request was made meanwhile
    offersFor.textContent = label;
    show(offers, ending);
    statusLine.textContent = "";
    if (learning) showLearned();
  } catch (error) {
    if (error.name === "AbortError" || number !== latest) return;
    statusLine.textContent = error.message;
  }
}

function show(offers, ending) {
  shown = offers;
  chips.forEach((chip, index) => {
    chip.textContent = "";
    const offer = offers[index];
    if (!offer) return;
    const key = document.createElement("span");
    key.className = "key";
    key.textContent = String(index + 1);
    chip.append(key, offer.label);
    if (offer.probability !== null && offer.probability !== undefined) {
      const share = document.createElement("span");
      share.className = "probability";
      share.textContent = (100 * offer.probability).toFixed(0) + "%";
      chip.append(share);
    }
    chip.dataset.word = offer.label;
  });
  completion = ending;
  completionLine.textContent = ending ? "Tab: " + ending.label : "";
}

function accept(offer) {
  if (!offer) return;
  box.value += offer.insert;
  saved += Math.max(0, offer.insert.length - 1); // the characters not typed, less the one key pressed
  showSaved();
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
  schedule(0);
}

function showSaved() {
  const typed = box.value.length;
  const share = typed ? ` (${Math.round((100 * saved) / typed)}% of ${typed} characters)` : "";
  document.getElementById("saved").textContent = `keystrokes saved: ${saved}${share}`;
}

function schedule(delay) {
  clearTimeout(timer);
  timer = setTimeout(refresh, delay);
}

async function writeOnward() {
  if (streaming) { streaming.abort(); return; } // the button stops a stream in progress
  streaming = new AbortController();
  writeOn.textContent = "stop";
  try {
    const response = await post("/v1/generate", {text: box.value, words: 20, temperature: 0.8}, streaming.signal);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      pending += decoder.decode(value, {stream: true});
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines.filter(Boolean)) {
        const piece = JSON.parse(line);
        if (piece.text !== undefined) box.value += piece.text;
      }
    }
  } catch (error) {
    if (error.name !== "AbortError") statusLine.textContent = error.message;
  } finally {
    streaming = null;
    writeOn.textContent = "write on";
    showSaved();
    schedule(0);
  }
}

// What the session learned: the server answers once what was queued before is learned.
async function showLearned() {
  const response = await fetch(`/v1/sessions/${SESSION}`);
  const answer = response.ok ? await response.json() : {words: [], positions: 0};
  learnedList.textContent = "";
  for (const {word, count} of answer.words) {
    const item = document.createElement("li");
    item.textContent = count > 1 ? `${word} (${count})` : word;
    item.dataset.word = word;
    learnedList.append(item);
  }
  remembered.textContent = answer.positions
    ? `It remembers your last ${answer.positions} words; new words it learned:` + (answer.words.length ? "" : " none yet")
    : "Nothing learned yet.";
}

// A new session starts at once from the text in the box, which it then does not learn back.
async function forget() {
  const response = await fetch(`/v1/sessions/${SESSION}`, {method: "DELETE"});
  statusLine.textContent = response.ok || response.status === 404 ? "" : "could not forget: " + response.statusText;
  await showLearned();
  schedule(0);
}

async function loadModel() {
  const response = await fetch("/v1/model");
  model = await response.json();
  const rows = [["run", model.source.split("/").filter(Boolean).pop()], ["engine", model.engine],
                ["level", model.level], ["context", model.context + (model.window_size ? ` (${model.window_size} tokens)` : "")],
                ["vocabulary", model.vocabulary_size.toLocaleString()], ["cell", `${model.layers} x ${model.units} ${model.cell}`]];
  const list = document.getElementById("model");
  for (const [name, value] of rows) {
    const term = document.createElement("dt");
    term.textContent = name;
    const detail = document.createElement("dd");
    detail.textContent = value;
    list.append(term, detail);
  }
  learning = model.sessions.available;
  if (learning) {
    showLearned();
  } else {
    document.getElementById("learning").textContent = "It learns nothing here: " + model.sessions.reason;
    forgetButton.hidden = true;
  }
  schedule(0);
}

box.addEventListener("input", () => {
  if (box.value === "") saved = 0;
  showSaved();
  schedule(DEBOUNCE_MS);
});
box.addEventListener("keydown", event => {
  if (event.key === "Tab" && !event.shiftKey) {
    event.preventDefault();
    accept(completion || shown[0]);
  } else if (event.altKey && ["Digit1", "Digit2", "Digit3"].includes(event.code)) {
    event.preventDefault(); // the key's code, not its character: Alt+1 types another character on some systems
    accept(shown[Number(event.code.slice(-1)) - 1]);
  }
});
chips.forEach(chip => chip.addEventListener("click", () => accept(shown[Number(chip.dataset.index)])));
writeOn.addEventListener("click", writeOnward);
forgetButton.addEventListener("click", forget);
loadModel();
