// clerk storefront: plain JavaScript against the public API.
//
// State lives in one object and in the URL (/?q=sofa&shopper=s-42&filter=brand:Nordby
// &sort=price_asc&page=2): the page reads it on load and on back/forward, and writes it
// with history.pushState on every change, so a results page can be linked and reloaded.
// Product text is always set with textContent: nothing from the catalog is parsed as HTML.
"use strict";

const AUTOCOMPLETE_DEBOUNCE_MS = 150;
const AUTOCOMPLETE_LIMIT = 8;
const PER_PAGE = 24;
const ADMIN_KEY_STORAGE = "clerk.adminKey";
const MERCH_STORAGE = "clerk.merchandiser";

const state = {
  config: null, // GET /v1/storefront/config
  q: "",
  shopper: "",
  sort: "relevance",
  page: 1,
  // field -> { kind, values: [..] } (terms, bool), { kind: "ranges", value: "lo..hi" },
  // { kind: "tree", value: "A/B" }, or { kind: "raw", values: [...] } (unknown field)
  filters: new Map(),
  last: null, // the last search response
  merchandiser: sessionStorage.getItem(MERCH_STORAGE) === "on",
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ---------- API ----------

// Every call carries the key saved in the merchandiser panel, if any: a store run with
// CLERK_SEARCH_KEY or CLERK_SHOPPER_SECRET then works for whoever entered the admin key.
async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...adminHeaders(), ...(options.headers || {}) } });
  let body = null;
  const text = await response.text();
  if (text) {
    try { body = JSON.parse(text); } catch (_) { body = null; }
  }
  if (!response.ok) {
    let message = body && body.error ? body.error.message : `HTTP ${response.status}`;
    if (response.status === 401 && !sessionStorage.getItem(ADMIN_KEY_STORAGE)) {
      message += " (this store needs a key: open the merchandiser view and enter it)";
    }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return body;
}

function adminHeaders() {
  const key = sessionStorage.getItem(ADMIN_KEY_STORAGE);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

// ---------- filters <-> URL ----------

function facetKind(field) {
  const facet = state.config && state.config.facets.find((f) => f.name === field);
  return facet ? facet.kind : "raw";
}

function filterStrings() {
  const out = [];
  for (const [field, f] of state.filters) {
    if (f.kind === "ranges" || f.kind === "tree") out.push(`${field}:${f.value}`);
    else if (f.values.length) out.push(`${field}:${f.values.join("|")}`);
  }
  return out;
}

function parseFilter(text) {
  const colon = text.indexOf(":");
  if (colon <= 0) return;
  const field = text.slice(0, colon);
  const value = text.slice(colon + 1);
  const kind = facetKind(field);
  if (kind === "ranges" || kind === "tree") state.filters.set(field, { kind, value });
  else state.filters.set(field, { kind, values: value.split("|").filter(Boolean) });
}

function readUrl() {
  const params = new URLSearchParams(location.search);
  state.q = params.get("q") || "";
  state.shopper = params.get("shopper") || "";
  state.sort = params.get("sort") || "relevance";
  state.page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
  state.filters = new Map();
  for (const f of params.getAll("filter")) parseFilter(f);
}

function writeUrl() {
  const params = new URLSearchParams();
  if (state.q) params.set("q", state.q);
  if (state.shopper) params.set("shopper", state.shopper);
  for (const f of filterStrings()) params.append("filter", f);
  if (state.sort !== "relevance") params.set("sort", state.sort);
  if (state.page > 1) params.set("page", String(state.page));
  const url = `/${params.toString() ? "?" + params.toString() : ""}`;
  if (url !== location.pathname + location.search) history.pushState(null, "", url);
}

// ---------- search ----------

function searchParams(overrides = {}) {
  const params = new URLSearchParams();
  params.set("q", state.q);
  if (state.shopper) {
    params.set("shopper", state.shopper);
  }
  params.set("explain", "true");
  for (const f of filterStrings()) params.append("filter", f);
  params.set("facets", state.config.facets.map((f) => f.name).join(","));
  params.set("sort", state.sort);
  params.set("page", String(state.page));
  params.set("per_page", String(PER_PAGE));
  for (const [key, value] of Object.entries(overrides)) params.set(key, value);
  return params;
}

let searchSeq = 0;

async function runSearch({ push = true } = {}) {
  if (push) writeUrl();
  syncControls();
  const seq = ++searchSeq;
  $("hits").dataset.loading = "true";
  try {
    const response = await api(`/v1/search?${searchParams()}`);
    if (seq !== searchSeq) return;
    state.last = response;
    render(response);
  } catch (error) {
    if (seq !== searchSeq) return;
    renderError(error.message);
  } finally {
    if (seq === searchSeq) delete $("hits").dataset.loading;
  }
  if (state.merchandiser) runComparison(seq);
  if (state.shopper) showProfile();
}

function newSearch(q) {
  state.q = q;
  state.page = 1;
  closeSuggestions();
  runSearch();
}

// ---------- rendering ----------

function syncControls() {
  $("q").value = state.q;
  $("shopper").value = state.shopper;
  $("sort").value = state.sort;
}

function renderError(message) {
  $("notices").replaceChildren(el("div", { class: "error", role: "alert", text: message }));
  $("hits").replaceChildren();
  $("pager").replaceChildren();
  $("summary").textContent = "";
}

function render(response) {
  const from = (response.page - 1) * response.per_page + 1;
  const to = from + response.hits.length - 1;
  $("summary").textContent = response.total
    ? `${from}–${to} of ${response.total} products${response.query ? ` for “${response.query}”` : ""} · ${response.variant} · ${response.took_ms.toFixed(1)} ms`
    : "No products";
  renderNotices(response);
  renderChips();
  renderFacets(response.facets || {});
  renderHits(response.hits);
  renderPager(response);
}

function renderNotices(response) {
  const notices = [];
  if (response.corrections && response.corrections.length) {
    const text = response.corrections.map((c) => `“${c.from}” → “${c.to}”`).join(", ");
    notices.push(el("div", { class: "corrections" }, `Showing results with corrected spelling: ${text}`));
  }
  if (response.relaxed) notices.push(el("div", { class: "relaxed" }, response.relaxed.message));
  if (response.message || (response.did_you_mean && response.did_you_mean.length)) {
    const box = el("div", { class: "did-you-mean" }, response.message || "");
    if (response.did_you_mean && response.did_you_mean.length) {
      box.append(" Did you mean:");
      for (const suggestion of response.did_you_mean) {
        box.append(el("a", { href: "#", onclick: (e) => { e.preventDefault(); newSearch(suggestion); } }, suggestion));
      }
    }
    notices.push(box);
  }
  $("notices").replaceChildren(...notices);
}

function chipLabel(field, f) {
  if (f.kind === "ranges") {
    const [lo, hi] = f.value.split("..");
    return `${field}: ${lo || "…"}–${hi || "…"}`;
  }
  if (f.kind === "tree") return `${field}: ${f.value.split("/").join(" › ")}`;
  return `${field}: ${f.values.join(" or ")}`;
}

function renderChips() {
  const chips = [];
  for (const [field, f] of state.filters) {
    const remove = () => { state.filters.delete(field); state.page = 1; runSearch(); };
    chips.push(el("span", { class: "chip", "data-field": field }, chipLabel(field, f),
      el("button", { type: "button", "aria-label": `Remove filter ${chipLabel(field, f)}`, onclick: remove }, "×")));
  }
  if (chips.length > 1) {
    chips.push(el("span", { class: "chip clear" },
      el("button", { type: "button", onclick: () => { state.filters.clear(); state.page = 1; runSearch(); } }, "Clear all")));
  }
  $("chips").replaceChildren(...chips);
}

function renderFacets(facets) {
  const sections = [];
  for (const facet of state.config.facets) {
    const counts = facets[facet.name];
    if (!counts || !counts.length) continue;
    const body = facet.kind === "tree" ? treeFacet(facet.name, counts, [])
      : facet.kind === "ranges" ? rangeFacet(facet.name, counts)
      : termFacet(facet.name, facet.kind, counts);
    sections.push(el("section", { class: "facet", "data-facet": facet.name }, el("h3", { text: facet.name.replace(/_/g, " ") }), body));
  }
  $("facets").replaceChildren(...sections);
}

function termFacet(field, kind, counts) {
  const selected = (state.filters.get(field) || { values: [] }).values || [];
  const list = el("div");
  for (const { value, count } of counts) {
    const toggle = (event) => {
      const values = new Set(selected);
      if (event.target.checked) values.add(value); else values.delete(value);
      if (values.size) state.filters.set(field, { kind, values: [...values] });
      else state.filters.delete(field);
      state.page = 1;
      runSearch();
    };
    const label = kind === "bool" ? (value === "true" ? "yes" : "no") : value;
    list.append(el("label", {},
      el("input", { type: "checkbox", checked: selected.includes(String(value)), onchange: toggle, "data-value": value }),
      el("span", { text: label }), el("span", { class: "count", text: count })));
  }
  return list;
}

function rangeFacet(field, counts) {
  const current = state.filters.get(field);
  const list = el("div");
  for (const { from, to, count } of counts) {
    const value = `${from ?? ""}..${to ?? ""}`;
    const toggle = (event) => {
      if (event.target.checked) state.filters.set(field, { kind: "ranges", value });
      else state.filters.delete(field);
      state.page = 1;
      runSearch();
    };
    const label = to === null || to === undefined ? `${from} and up` : `${from} – ${to}`;
    list.append(el("label", {},
      el("input", { type: "checkbox", checked: current && current.value === value, onchange: toggle, "data-value": value }),
      el("span", { text: label }), el("span", { class: "count", text: count })));
  }
  return list;
}

function treeFacet(field, nodes, path) {
  const current = state.filters.get(field);
  const list = el("ul");
  for (const node of nodes) {
    const nodePath = [...path, node.value];
    const value = nodePath.join("/");
    const active = current && current.value === value;
    const pick = (event) => {
      event.preventDefault();
      if (active) state.filters.delete(field);
      else state.filters.set(field, { kind: "tree", value });
      state.page = 1;
      runSearch();
    };
    const item = el("li", {}, el("div", { class: "node" },
      el("a", { href: "#", class: active ? "active" : "", onclick: pick, "data-value": value, text: node.value }),
      el("span", { class: "count", text: node.count })));
    if (node.children && node.children.length) item.append(treeFacet(field, node.children, nodePath));
    list.append(item);
  }
  return list;
}

function field(product, name) {
  return name && product ? product[name] : undefined;
}

function renderHits(hits) {
  if (!hits.length) {
    $("hits").replaceChildren(el("li", { class: "empty", text: "Nothing here. Try fewer filters or another word." }));
    return;
  }
  const display = state.config.display;
  $("hits").replaceChildren(...hits.map((hit, i) => card(hit, i, display)));
}

// Whether the crowd preferred this hit (the `learned` criterion at its best): only
// then does a shopper see why.
function crowdChose(explain) {
  const learned = (explain.criteria || []).find((c) => c.criterion === "learned");
  return Boolean(explain.learned_because && learned && learned.value === learned.best);
}

function card(hit, index, display) {
  const product = hit.product || {};
  const title = field(product, display.title) ?? hit.id;
  const brand = field(product, display.brand);
  const price = field(product, display.price);
  const stock = field(product, display.in_stock);
  const explain = hit.explain || {};
  const node = el("li", { class: "card", "data-id": hit.id, "data-position": index + 1 },
    el("div", { class: "title", text: Array.isArray(title) ? title.join(" ") : title }),
    brand !== undefined ? el("div", { class: "brand", text: brand }) : null,
    typeof price === "number" ? el("div", { class: "price", text: price.toFixed(2) }) : null,
    typeof stock === "boolean" ? el("div", { class: `stock ${stock ? "in" : "out"}`, text: stock ? "In stock" : "Out of stock" }) : null,
    explain.because ? el("div", { class: "because", text: `Because ${explain.because}` }) : null,
    crowdChose(explain) ? el("div", { class: "crowd", text: explain.learned_because.replace(/^./, (c) => c.toUpperCase()) }) : null,
    explain.rules && explain.rules.length ? el("div", { class: "rules", text: explain.rules.join(" · ") }) : null);
  const actions = el("div", { class: "actions" });
  for (const [type, label] of [["view", "View"], ["add_to_cart", "Add to cart"], ["purchase", "Buy"]]) {
    actions.append(el("button", {
      type: "button", "data-event": type, disabled: !state.shopper,
      title: state.shopper ? "" : "Pick a shopper to record events",
      onclick: () => sendEvent(type, hit.id, String(title), index + 1),
    }, label));
  }
  node.append(actions);
  return node;
}

function renderPager(response) {
  const pages = Math.min(Math.ceil(response.total / response.per_page), Math.floor(10000 / response.per_page));
  if (pages <= 1) { $("pager").replaceChildren(); return; }
  const go = (page) => () => { state.page = page; runSearch(); window.scrollTo(0, 0); };
  const buttons = [];
  if (response.page > 1) buttons.push(el("button", { type: "button", onclick: go(response.page - 1) }, "‹ Prev"));
  const first = Math.max(1, response.page - 3);
  for (let p = first; p <= Math.min(pages, first + 6); p++) {
    buttons.push(el("button", { type: "button", "aria-current": p === response.page ? "page" : null, onclick: go(p) }, p));
  }
  if (response.page < pages) buttons.push(el("button", { type: "button", onclick: go(response.page + 1) }, "Next ›"));
  $("pager").replaceChildren(...buttons);
}

// ---------- shopper events ----------

async function sendEvent(type, product, title, position) {
  if (!state.shopper) return;
  const events = [{ type, shopper: state.shopper, product }];
  if (type === "view") events.unshift({ type: "click", shopper: state.shopper, product, query: state.q, position });
  try {
    const { accepted } = await api("/v1/events", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(events),
    });
    $("event-status").textContent = `Recorded ${type.replace(/_/g, " ")} of “${title}” for ${state.shopper} (${accepted} event${accepted === 1 ? "" : "s"}); results re-ranked.`;
    await runSearch({ push: false });
  } catch (error) {
    $("event-status").textContent = `Could not record the event: ${error.message}`;
  }
}

// A profile feature group in shopper words: "_type" → "product type",
// "attributes.color" → "color", "price_band" → "price range".
function featureLabel(feature) {
  if (feature === "_type") return "product type";
  if (feature === "price_band") return "price range";
  return feature.replace(/^attributes\./, "").replace(/_/g, " ");
}

async function showProfile() {
  const shopper = state.shopper;
  try {
    const profile = await api(`/v1/shoppers/${encodeURIComponent(shopper)}`);
    if (shopper !== state.shopper) return;
    const top = (profile.affinities || []).slice(0, 5).map((a) => `${a.value} (${featureLabel(a.feature)})`);
    $("profile").textContent = top.length ? `${shopper} likes: ${top.join(", ")}` : `${shopper} has no history yet: view or buy something.`;
    $("profile").hidden = false;
  } catch (_) {
    $("profile").textContent = `${shopper} has no history yet: view or buy something.`;
    $("profile").hidden = false;
  }
}

// ---------- merchandiser view ----------

async function runComparison(seq) {
  const box = $("merch-compare");
  box.hidden = false;
  const variants = [["Live", {}], ["Rules off", { rules: "off" }], ["Personalization off", { personalization: "off" }]];
  try {
    const results = await Promise.all(variants.map(([, overrides]) =>
      api(`/v1/search?${searchParams({ ...overrides, explain: "false" })}`)));
    if (seq !== searchSeq) return;
    $("merch-status").textContent = "Comparing live results with rules off and personalization off.";
    renderComparison(variants.map(([label]) => label), results);
  } catch (error) {
    if (seq !== searchSeq) return;
    $("merch-status").textContent = "";
    const hint = error.status === 401 ? "enter the admin key above. " : "";
    box.replaceChildren(el("div", { class: "notices" }, el("div", { class: "error", role: "alert", text: `Merchandiser view: ${hint}${error.message}` })));
  }
}

function renderComparison(labels, results) {
  const live = results[0].hits.map((h) => h.id);
  const title = (hit) => String(field(hit.product, state.config.display.title) ?? hit.id);
  const columns = results.map((response, i) => el("section", { "data-column": labels[i] },
    el("h3", { text: labels[i] }),
    response.rules_applied && response.rules_applied.length
      ? el("div", { class: "muted", text: `Rules: ${response.rules_applied.join("; ")}` }) : null,
    el("ol", {}, ...response.hits.slice(0, 10).map((hit, position) =>
      el("li", { class: i > 0 && live[position] !== hit.id ? "moved" : "", "data-id": hit.id, text: title(hit) })))));
  $("merch-compare").replaceChildren(el("h2", { text: "Merchandiser view: same query, side by side" }), el("div", { class: "merch-columns" }, ...columns));
}

function setMerchandiser(on, compare = true) {
  state.merchandiser = on;
  sessionStorage.setItem(MERCH_STORAGE, on ? "on" : "off");
  $("merch-toggle").setAttribute("aria-pressed", String(on));
  $("merch-panel").hidden = !on;
  $("merch-compare").hidden = !on;
  if (on && compare) runComparison(searchSeq);
}

// ---------- autocomplete ----------

let suggestTimer = null;
let suggestAbort = null;
let activeSuggestion = -1;

function closeSuggestions() {
  clearTimeout(suggestTimer);
  if (suggestAbort) suggestAbort.abort();
  $("suggestions").hidden = true;
  $("suggestions").replaceChildren();
  $("q").setAttribute("aria-expanded", "false");
  activeSuggestion = -1;
}

function scheduleSuggestions() {
  clearTimeout(suggestTimer);
  const typed = $("q").value;
  if (!typed.trim()) { closeSuggestions(); return; }
  suggestTimer = setTimeout(() => fetchSuggestions(typed), AUTOCOMPLETE_DEBOUNCE_MS);
}

async function fetchSuggestions(typed) {
  if (suggestAbort) suggestAbort.abort();
  suggestAbort = new AbortController();
  try {
    const params = new URLSearchParams({ q: typed, limit: String(AUTOCOMPLETE_LIMIT) });
    const response = await fetch(`/v1/autocomplete?${params}`, { signal: suggestAbort.signal, headers: adminHeaders() });
    if (!response.ok || $("q").value !== typed) return;
    const { suggestions } = await response.json();
    showSuggestions(suggestions || []);
  } catch (_) { /* aborted or offline: no suggestions */ }
}

function showSuggestions(suggestions) {
  const list = $("suggestions");
  activeSuggestion = -1;
  list.replaceChildren(...suggestions.map((s, i) => el("li", {
    role: "option", id: `suggestion-${i}`, "aria-selected": "false",
    onmousedown: (e) => { e.preventDefault(); newSearch(s.text); },
  }, s.text)));
  list.hidden = suggestions.length === 0;
  $("q").setAttribute("aria-expanded", String(suggestions.length > 0));
}

function moveSuggestion(step) {
  const items = [...$("suggestions").children];
  if (!items.length) return;
  activeSuggestion = (activeSuggestion + step + items.length) % items.length;
  items.forEach((item, i) => item.setAttribute("aria-selected", String(i === activeSuggestion)));
  $("q").setAttribute("aria-activedescendant", items[activeSuggestion].id);
}

function onSearchKey(event) {
  const open = !$("suggestions").hidden;
  if (event.key === "ArrowDown") { event.preventDefault(); if (open) moveSuggestion(1); else scheduleSuggestions(); }
  else if (event.key === "ArrowUp" && open) { event.preventDefault(); moveSuggestion(-1); }
  else if (event.key === "Escape") closeSuggestions();
  else if (event.key === "Enter" && open && activeSuggestion >= 0) {
    event.preventDefault();
    newSearch($("suggestions").children[activeSuggestion].textContent);
  }
}

// ---------- start ----------

function fillSelects() {
  for (const id of state.config.demo_shoppers) $("shopper").append(el("option", { value: id }, `Shopper ${id}`));
  const names = { relevance: "Relevance", price_asc: "Price: low to high", price_desc: "Price: high to low", newest: "Newest", rating: "Rating" };
  for (const sort of state.config.sorts) $("sort").append(el("option", { value: sort }, names[sort] || sort));
}

function ensureShopperOption() {
  if (state.shopper && ![...$("shopper").options].some((o) => o.value === state.shopper)) {
    $("shopper").append(el("option", { value: state.shopper }, `Shopper ${state.shopper}`));
  }
}

function wire() {
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); newSearch($("q").value); });
  $("q").addEventListener("input", scheduleSuggestions);
  $("q").addEventListener("keydown", onSearchKey);
  $("q").addEventListener("blur", () => setTimeout(closeSuggestions, 100));
  $("shopper").addEventListener("change", (e) => {
    state.shopper = e.target.value;
    state.page = 1;
    $("event-status").textContent = "";
    $("profile").hidden = true;
    runSearch();
  });
  $("sort").addEventListener("change", (e) => { state.sort = e.target.value; state.page = 1; runSearch(); });
  $("merch-toggle").addEventListener("click", () => setMerchandiser(!state.merchandiser));
  $("admin-key").value = sessionStorage.getItem(ADMIN_KEY_STORAGE) || "";
  $("admin-key-save").addEventListener("click", () => {
    const key = $("admin-key").value.trim();
    if (key) sessionStorage.setItem(ADMIN_KEY_STORAGE, key); else sessionStorage.removeItem(ADMIN_KEY_STORAGE);
    runSearch({ push: false });
  });
  window.addEventListener("popstate", () => { readUrl(); ensureShopperOption(); runSearch({ push: false }); });
}

async function start() {
  try {
    state.config = await api("/v1/storefront/config");
  } catch (error) {
    renderError(`The store is not available: ${error.message}`);
    return;
  }
  fillSelects();
  wire();
  readUrl();
  ensureShopperOption();
  setMerchandiser(state.merchandiser, false);
  document.body.dataset.ready = "true";
  runSearch({ push: false });
}

start();
