// Wraps window.fetch to hold each answer back arguments[0] ms, recording how many requests
// were in flight at once and every text the answer's digit showed (window.__probe).
const delay = arguments[0];
const real = window.fetch.bind(window);
const probe = { inFlight: 0, maxInFlight: 0, calls: 0, shown: [] };
window.__probe = probe;
window.fetch = async (...args) => {
  probe.calls += 1;
  probe.inFlight += 1;
  probe.maxInFlight = Math.max(probe.maxInFlight, probe.inFlight);
  try {
    const response = await real(...args);
    await new Promise((resolve) => setTimeout(resolve, delay));
    return response;
  } finally {
    probe.inFlight -= 1;
  }
};
const digit = document.getElementById("digit");
new MutationObserver(() => probe.shown.push(digit.textContent)).observe(digit, {
  childList: true,
  characterData: true,
  subtree: true,
});
