// digitrun's draw-a-digit page: a canvas driven by pointer events, sent as a PNG to
// `POST predict` (the service does all the MNIST-style preprocessing), the answer shown
// with a bar chart of the ten probabilities, and a "Right?" question whose answer goes to
// `POST feedback`. No build step and no dependencies; every URL is relative, so the page
// works behind any host or path prefix.
"use strict";

(() => {
  const PREDICT_URL = "predict";
  const FEEDBACK_URL = "feedback";
  const DEBOUNCE_MS = 300; // predict-as-you-draw waits this long after the last movement
  const TIMEOUT_MS = 15000;
  const STROKE_SHARE = 1 / 14; // of the canvas side: ~2-3 px once the digit fits 20x20
  const IMAGE_TYPES = ["image/png", "image/jpeg"];
  const UNREACHABLE = "The service could not be reached. Check that it is running, then try again.";
  const SVG = "http://www.w3.org/2000/svg";

  const $ = (id) => document.getElementById(id);

  // ---- the drawing pad --------------------------------------------------------------
  function createPad(canvas, onChange) {
    const ctx = canvas.getContext("2d");
    const width = STROKE_SHARE * canvas.width;
    let pointer = null; // the id of the pointer drawing now
    let last = null;
    let inked = false;

    function clear() {
      ctx.fillStyle = "#ffffff"; // opaque white paper: the service inverts dark-on-light
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.fillStyle = ctx.strokeStyle = "#000000";
      ctx.lineWidth = width;
      ctx.lineCap = ctx.lineJoin = "round";
      inked = false;
    }

    function at(event) {
      const box = canvas.getBoundingClientRect();
      const x = event.clientX - box.left - canvas.clientLeft;
      const y = event.clientY - box.top - canvas.clientTop;
      return {
        x: (x * canvas.width) / canvas.clientWidth,
        y: (y * canvas.height) / canvas.clientHeight,
      };
    }

    function dot(p) {
      ctx.beginPath();
      ctx.arc(p.x, p.y, width / 2, 0, 2 * Math.PI);
      ctx.fill();
    }

    function line(a, b) {
      ctx.beginPath();
      ctx.moveTo(a.x, a.y);
      ctx.lineTo(b.x, b.y);
      ctx.stroke();
    }

    canvas.addEventListener("pointerdown", (event) => {
      if (pointer !== null || (event.pointerType === "mouse" && event.button !== 0)) return;
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      canvas.dataset.pointer = event.pointerType;
      pointer = event.pointerId;
      last = at(event);
      dot(last);
      inked = true;
      onChange();
    });
    canvas.addEventListener("pointermove", (event) => {
      if (event.pointerId !== pointer) return;
      event.preventDefault();
      const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
      for (const each of events.length ? events : [event]) {
        const p = at(each);
        line(last, p);
        last = p;
      }
      onChange();
    });
    const end = (event) => {
      if (event.pointerId !== pointer) return;
      pointer = null;
      last = null;
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("lostpointercapture", end);
    canvas.addEventListener("contextmenu", (event) => event.preventDefault());

    clear();
    return {
      clear,
      hasInk: () => inked,
      png: () =>
        new Promise((resolve, reject) => {
          canvas.toBlob(
            (blob) => (blob ? resolve(blob) : reject(new Error("the drawing could not be encoded"))),
            "image/png",
          );
        }),
    };
  }

  // ---- the bar chart ----------------------------------------------------------------
  function createChart(svg, title) {
    const top = 20;
    const base = 130;
    const slot = 30;
    const bars = [];
    const values = [];
    const node = (name, attrs, parent) => {
      const el = document.createElementNS(SVG, name);
      for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
      parent.appendChild(el);
      return el;
    };
    const labels = node("g", { "aria-hidden": "true" }, svg);
    node("line", { class: "axis", x1: 0, x2: 10 * slot, y1: base, y2: base }, labels);
    for (let digit = 0; digit < 10; digit += 1) {
      const x = digit * slot;
      bars.push(node("rect", { class: "bar", x: x + 5, y: base, width: slot - 10, height: 0 }, labels));
      values.push(node("text", { class: "value", x: x + slot / 2, y: base - 4 }, labels));
      node("text", { class: "label", x: x + slot / 2, y: base + 20 }, labels).textContent = String(digit);
    }

    function show(probs) {
      const best = probs ? probs.indexOf(Math.max(...probs)) : -1;
      bars.forEach((bar, digit) => {
        const p = probs ? probs[digit] : 0;
        const height = Math.max(0, Math.min(1, p)) * (base - top);
        bar.setAttribute("y", String(base - height));
        bar.setAttribute("height", String(height));
        bar.classList.toggle("best", digit === best);
        values[digit].setAttribute("y", String(base - height - 4));
        values[digit].textContent = probs && p >= 0.005 ? `${Math.round(p * 100)}%` : "";
      });
      title.textContent = probs
        ? `Probability of each digit: ${probs.map((p, d) => `${d}: ${percent(p)}`).join(", ")}`
        : "Probability of each digit: no answer yet";
    }

    show(null);
    return { show };
  }

  const percent = (p) => `${(p * 100).toFixed(p >= 0.999 || p < 0.001 ? 0 : 1)}%`;

  // ---- talking to the service -------------------------------------------------------
  async function post(url, body, contentType) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    const started = performance.now();
    try {
      const headers = contentType ? { "Content-Type": contentType } : {};
      const response = await fetch(url, {
        method: "POST",
        body,
        headers,
        cache: "no-store",
        credentials: "same-origin",
        signal: controller.signal,
      });
      const text = await response.text();
      let data = null;
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = null;
      }
      return { response, data, ms: performance.now() - started };
    } catch (err) {
      const message =
        err && err.name === "AbortError"
          ? `The service did not answer within ${TIMEOUT_MS / 1000} seconds. Try again.`
          : UNREACHABLE;
      return { failure: message };
    } finally {
      clearTimeout(timer);
    }
  }

  // The service's own words for a 4xx ({"error": {"message"}} or {"error": "..."}).
  function serviceMessage(status, data) {
    const error = data && data.error;
    const message = typeof error === "string" ? error : error && error.message;
    if (status >= 400 && status < 500 && message) return message;
    if (status >= 500) return `the service failed to answer (HTTP ${status}); try again`;
    return `the service answered HTTP ${status}`;
  }

  // ---- the page ---------------------------------------------------------------------
  function start() {
    const ui = {
      result: $("result"),
      digit: $("digit"),
      summary: $("summary"),
      error: $("error"),
      confidence: $("confidence"),
      version: $("version"),
      rtt: $("rtt"),
      feedback: $("feedback"),
      question: $("feedback-question"),
      status: $("feedback-status"),
      yes: $("yes"),
      meant: Array.from(document.querySelectorAll(".meant-digit")),
      auto: $("auto"),
      photo: $("photo"),
      preview: $("preview"),
    };
    const chart = createChart($("chart"), $("chart-title"));
    const queue = { busy: false, next: null, generation: 0, timer: null };
    let answer = null; // {prediction, predictionId}
    let previewUrl = null;

    function setState(state) {
      ui.result.dataset.state = state;
      ui.result.setAttribute("aria-busy", String(state === "waiting"));
    }

    function showError(message) {
      ui.error.textContent = message;
      ui.error.hidden = false;
    }

    function hideError() {
      ui.error.hidden = true;
      ui.error.textContent = "";
    }

    function reset() {
      answer = null;
      ui.digit.textContent = "?";
      ui.summary.textContent = "Draw a digit to see what the model reads.";
      ui.confidence.textContent = ui.rtt.textContent = "–";
      ui.feedback.hidden = true;
      chart.show(null);
      hideError();
      setState("idle");
    }

    function showAnswer(outcome, source) {
      const { response, data, ms } = outcome;
      const probs = Array.isArray(data.probabilities[0]) ? data.probabilities[0] : data.probabilities;
      const ranked = probs.map((p, d) => [p, d]).sort((a, b) => b[0] - a[0]);
      const prediction = data.prediction;
      const confidence = typeof data.confidence === "number" ? data.confidence : ranked[0][0];
      if (!Number.isInteger(prediction) || probs.length !== 10) throw new Error("unexpected answer");
      ui.digit.textContent = String(prediction);
      ui.summary.textContent =
        `${percent(confidence)} sure (from ${source}); ` +
        `next best: ${ranked[1][1]} at ${percent(ranked[1][0])}.`;
      ui.confidence.textContent = percent(confidence);
      ui.version.textContent = response.headers.get("X-Model-Version") || data.model_version || "–";
      ui.rtt.textContent = `${Math.round(ms)} ms`;
      chart.show(probs);
      hideError();
      const predictionId = data.prediction_id || response.headers.get("X-Prediction-Id");
      answer = { prediction, predictionId };
      askFeedback(Boolean(predictionId), prediction);
      setState("answered");
    }

    async function run() {
      const job = queue.next;
      queue.next = null;
      queue.busy = true;
      setState("waiting");
      let outcome;
      try {
        outcome = await post(PREDICT_URL, await job.body(), job.type);
      } catch (err) {
        outcome = { failure: `The drawing could not be sent: ${err.message}.` };
      }
      queue.busy = false;
      if (queue.next) return run(); // a newer drawing wins: this answer is already stale
      if (job.generation !== queue.generation) return settle(); // cleared meanwhile
      if (outcome.failure) return fail(outcome.failure);
      if (!outcome.response.ok || !outcome.data) {
        const words = serviceMessage(outcome.response.status, outcome.data);
        return fail(`The service could not read the ${job.source}: ${words}.`);
      }
      try {
        return showAnswer(outcome, job.source);
      } catch (_) {
        return fail("The service's answer could not be read. Reload the page and try again.");
      }
    }

    function fail(message) {
      showError(message);
      setState("error");
    }

    // Nothing waiting or in flight any more: show what is on screen.
    function settle() {
      if (queue.busy || queue.next || queue.timer) return;
      setState(!ui.error.hidden ? "error" : answer ? "answered" : "idle");
    }

    // At most one request in flight: a job submitted meanwhile replaces any older waiting one.
    function submit(job) {
      clearTimeout(queue.timer);
      queue.timer = null;
      queue.next = { ...job, generation: queue.generation };
      setState("waiting");
      if (!queue.busy) run();
    }

    const drawing = { source: "drawing", type: "image/png", body: () => pad.png() };

    function predictDrawing() {
      if (!pad.hasInk()) {
        showError("Draw a digit in the square first, or upload a photo.");
        return;
      }
      submit(drawing);
    }

    const pad = createPad($("pad"), () => {
      if (!ui.auto.checked) return;
      clearTimeout(queue.timer);
      setState("waiting");
      queue.timer = setTimeout(() => submit(drawing), DEBOUNCE_MS);
    });

    ui.auto.addEventListener("change", () => {
      if (ui.auto.checked) return;
      clearTimeout(queue.timer);
      queue.timer = null;
      settle();
    });

    function clearAll() {
      clearTimeout(queue.timer);
      queue.timer = null;
      queue.next = null;
      queue.generation += 1;
      pad.clear();
      ui.photo.value = "";
      ui.preview.hidden = true;
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = null;
      reset();
    }

    function sendPhoto() {
      const file = ui.photo.files && ui.photo.files[0];
      if (!file) return;
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = URL.createObjectURL(file);
      ui.preview.src = previewUrl;
      ui.preview.hidden = false;
      const type = (file.type || "").toLowerCase();
      if (IMAGE_TYPES.includes(type)) {
        submit({ source: "photo", type, body: () => file });
      } else {
        submit({
          source: "photo",
          type: null, // the browser writes the multipart boundary itself
          body: () => {
            const form = new FormData();
            form.append("image", file, file.name);
            return form;
          },
        });
      }
    }

    // ---- "Right?" ------------------------------------------------------------------
    const feedbackButtons = () => [ui.yes, ...ui.meant];

    function askFeedback(available, prediction) {
      ui.feedback.hidden = !available;
      ui.question.textContent = `Right? Is it a ${prediction}?`;
      ui.status.textContent = "";
      ui.status.className = "feedback-status";
      for (const button of feedbackButtons()) {
        button.disabled = false;
        button.classList.remove("chosen");
      }
    }

    async function sendFeedback(actual, button) {
      if (!answer || !answer.predictionId) return;
      const sent = answer;
      for (const each of feedbackButtons()) each.disabled = true;
      ui.status.className = "feedback-status";
      ui.status.textContent = "Sending…";
      const body = JSON.stringify({ prediction_id: sent.predictionId, actual });
      const outcome = await post(FEEDBACK_URL, body, "application/json");
      if (answer !== sent) return; // a newer answer replaced the question meanwhile
      if (!outcome.failure && outcome.response.ok) {
        button.classList.add("chosen");
        ui.status.classList.add("sent");
        ui.status.textContent =
          actual === sent.prediction
            ? `Thank you: recorded that ${actual} was right.`
            : `Thank you: recorded that you meant ${actual}, not ${sent.prediction}.`;
        return;
      }
      const words = outcome.failure || serviceMessage(outcome.response.status, outcome.data);
      ui.status.classList.add("failed");
      ui.status.textContent = `Your answer was not recorded: ${words}`;
      const retry = outcome.failure || outcome.response.status >= 500;
      for (const each of feedbackButtons()) each.disabled = !retry;
    }

    ui.yes.addEventListener("click", () => answer && sendFeedback(answer.prediction, ui.yes));
    for (const button of ui.meant) {
      button.setAttribute("aria-label", `No, I meant ${button.dataset.digit}`);
      button.addEventListener("click", () => sendFeedback(Number(button.dataset.digit), button));
    }
    $("predict").addEventListener("click", predictDrawing);
    $("clear").addEventListener("click", clearAll);
    ui.photo.addEventListener("change", sendPhoto);
    reset();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
