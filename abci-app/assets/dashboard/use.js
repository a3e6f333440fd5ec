// Using a model from the dashboard, through POST
// /um/training/v1/models/{id}/predict (which the node forwards to its
// um-trainer serve):
//
// - an image lineage gets a drawing pad (div.pad, data-model): draw a digit
//   with the mouse (or a finger); when a stroke ends the pad is reduced to
//   28x28 as MNIST digits were made (the ink's bounding box scaled into
//   20x20, centred on its centre of mass) and the head's probabilities are
//   drawn as bars (div.probabilities, a div.bar per class with data-class
//   and data-p); span.predicted carries data-class and data-version.
// - a language lineage gets a sample from its head (div.sample, data-model,
//   data-version), drawn again whenever the head changes.
//
// A node without a predictor answers 503: the panel says so and the rest of
// the page is unaffected. window.umUse exposes the pure parts (digitPixels)
// and drawDigit(modelId, pixels), which paints 784 pixels onto a pad and
// predicts, so interop/dashboard.mjs can render a real MNIST digit.
"use strict";

(function () {
  const SIDE = 28;
  const PAD = 280; // pad pixels per side: 10 per digit pixel
  const BOX = 20; // MNIST's digits fit a 20x20 box inside the 28x28 image
  // Where MNIST put a digit's centre of mass (pixel indices; measured on
  // data/mnist: 14.0 ± 0.3 on both axes, the longest side 20), so that a
  // real digit drawn onto the pad comes out as it went in.
  const CENTRE = 14;
  const SAMPLE_PROMPT = "\n";
  const SAMPLE_TOKENS = 200;

  const pads = new Map(); // model_id -> pad view
  const samples = new Map(); // model_id -> sample view

  const { el } = window.umDom;

  async function predict(modelId, body) {
    const response = await fetch(`/um/training/v1/models/${encodeURIComponent(modelId)}/predict`, {
      method: "POST",
      cache: "no-store",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(answer.message || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return answer;
  }

  function failure(error) {
    return error.status === 503 ? `not available on this node: ${error.message}` : `prediction failed: ${error.message}`;
  }

  // The kind of a lineage's spec ("mlp", "cnn", "gpt"), or "" when unreadable.
  function kindOf(lineage) {
    try {
      return JSON.parse(lineage.spec_json || "{}").kind || "";
    } catch (_) {
      return "";
    }
  }

  // --- the 28x28 reduction (pure) ------------------------------------------

  // ink: Float64Array of PAD*PAD values in [0, 255] (the pad's brightness).
  // Returns 784 integers in [0, 255]: the ink's bounding box scaled to fit
  // BOX x BOX (aspect kept, area-averaged), placed so that its centre of
  // mass is at (CENTRE, CENTRE); an empty pad gives all zeros.
  function digitPixels(ink, side) {
    let top = side, left = side, bottom = -1, right = -1;
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        if (ink[y * side + x] > 0) {
          top = Math.min(top, y);
          bottom = Math.max(bottom, y);
          left = Math.min(left, x);
          right = Math.max(right, x);
        }
      }
    }
    const out = new Array(SIDE * SIDE).fill(0);
    if (bottom < 0) {
      return out;
    }
    const width = right - left + 1;
    const height = bottom - top + 1;
    const scale = BOX / Math.max(width, height); // digit pixels per pad pixel
    const w = Math.max(1, Math.round(width * scale));
    const h = Math.max(1, Math.round(height * scale));
    // Area average of the box into w x h cells.
    const cells = new Float64Array(w * h);
    const counts = new Float64Array(w * h);
    for (let y = top; y <= bottom; y++) {
      const cy = Math.min(h - 1, Math.floor((y - top) * h / height));
      for (let x = left; x <= right; x++) {
        const cx = Math.min(w - 1, Math.floor((x - left) * w / width));
        cells[cy * w + cx] += ink[y * side + x];
        counts[cy * w + cx] += 1;
      }
    }
    let mass = 0, mx = 0, my = 0;
    for (let i = 0; i < w * h; i++) {
      cells[i] = counts[i] ? cells[i] / counts[i] : 0;
      mass += cells[i];
      mx += cells[i] * (i % w);
      my += cells[i] * Math.floor(i / w);
    }
    const offsetX = Math.round(CENTRE - (mass ? mx / mass : (w - 1) / 2));
    const offsetY = Math.round(CENTRE - (mass ? my / mass : (h - 1) / 2));
    for (let cy = 0; cy < h; cy++) {
      for (let cx = 0; cx < w; cx++) {
        const x = cx + offsetX;
        const y = cy + offsetY;
        if (x >= 0 && x < SIDE && y >= 0 && y < SIDE) {
          out[y * SIDE + x] = Math.max(0, Math.min(255, Math.round(cells[cy * w + cx])));
        }
      }
    }
    return out;
  }

  // --- the drawing pad --------------------------------------------------------

  function padView(modelId) {
    if (pads.has(modelId)) {
      return pads.get(modelId);
    }
    const canvas = el("canvas", { class: "pad-canvas", width: String(PAD), height: String(PAD), "aria-label": `draw a digit for ${modelId}` });
    const preview = el("canvas", { class: "pad-preview", width: String(SIDE), height: String(SIDE), title: "what the model sees (28x28)" });
    const predicted = el("span", { class: "predicted", "data-class": "", "data-version": "" , text: "draw a digit" });
    const bars = el("div", { class: "probabilities" });
    for (let c = 0; c < 10; c++) {
      bars.append(el("div", { class: "bar", "data-class": String(c), "data-p": "" }, [
        el("span", { class: "bar-label", text: String(c) }),
        el("span", { class: "bar-fill" }),
        el("span", { class: "bar-value", text: "" }),
      ]));
    }
    const clear = el("button", { type: "button", text: "clear" });
    const note = el("p", { class: "pad-note" });
    const panel = el("div", { class: "pad", "data-model": modelId, "data-predictions": "0" }, [
      el("h4", { text: "Try it: draw a digit" }),
      el("div", { class: "pad-row" }, [
        canvas,
        el("div", { class: "pad-side" }, [predicted, bars, el("div", {}, [preview, clear]), note]),
      ]),
    ]);
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const view = { modelId, panel, canvas, ctx, preview, predicted, bars, note, drawing: false, last: null, pending: null, running: false };
    blank(view);

    const point = (event) => {
      const r = canvas.getBoundingClientRect();
      return { x: (event.clientX - r.left) * (PAD / r.width), y: (event.clientY - r.top) * (PAD / r.height) };
    };
    canvas.addEventListener("pointerdown", (event) => {
      canvas.setPointerCapture(event.pointerId);
      view.drawing = true;
      view.last = point(event);
      stroke(view, view.last, view.last);
    });
    canvas.addEventListener("pointermove", (event) => {
      if (view.drawing) {
        const p = point(event);
        stroke(view, view.last, p);
        view.last = p;
      }
    });
    const end = () => {
      if (view.drawing) {
        view.drawing = false;
        classify(view);
      }
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    clear.addEventListener("click", () => {
      blank(view);
      show(view, null);
    });
    pads.set(modelId, view);
    return view;
  }

  function blank(view) {
    view.ctx.fillStyle = "#000";
    view.ctx.fillRect(0, 0, PAD, PAD);
  }

  function stroke(view, from, to) {
    const ctx = view.ctx;
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 22;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
  }

  // The pad's brightness as PAD*PAD values in [0, 255].
  function padInk(view) {
    const data = view.ctx.getImageData(0, 0, PAD, PAD).data;
    const ink = new Float64Array(PAD * PAD);
    for (let i = 0; i < ink.length; i++) {
      ink[i] = (data[4 * i] + data[4 * i + 1] + data[4 * i + 2]) / 3;
    }
    return ink;
  }

  function drawPreview(view, pixels) {
    const ctx = view.preview.getContext("2d");
    const image = ctx.createImageData(SIDE, SIDE);
    pixels.forEach((v, i) => {
      image.data.set([v, v, v, 255], 4 * i);
    });
    ctx.putImageData(image, 0, 0);
  }

  function show(view, answer) {
    const probabilities = answer ? answer.probabilities || [] : [];
    for (const bar of view.bars.children) {
      const p = probabilities[Number(bar.getAttribute("data-class"))];
      const known = typeof p === "number";
      bar.setAttribute("data-p", known ? String(p) : "");
      bar.querySelector(".bar-fill").style.width = known ? `${Math.round(p * 160)}px` : "0";
      bar.querySelector(".bar-value").textContent = known ? `${(p * 100).toFixed(1)} %` : "";
      bar.classList.toggle("best", Boolean(answer) && Number(bar.getAttribute("data-class")) === answer.predicted_class);
    }
    view.predicted.setAttribute("data-class", answer ? String(answer.predicted_class) : "");
    view.predicted.setAttribute("data-version", answer ? String(answer.version) : "");
    view.predicted.textContent = answer ? `${answer.predicted_class} (version ${answer.version})` : "draw a digit";
  }

  // Predicts what the pad shows; a stroke ended while one runs is predicted
  // after it (only the latest).
  async function classify(view) {
    const pixels = digitPixels(padInk(view), PAD);
    drawPreview(view, pixels);
    if (view.running) {
      view.pending = pixels;
      return;
    }
    view.running = true;
    let next = pixels;
    while (next) {
      view.pending = null;
      try {
        const answer = await predict(view.modelId, { image: next });
        show(view, answer);
        view.note.textContent = "";
        view.panel.setAttribute("data-predictions", String(Number(view.panel.getAttribute("data-predictions")) + 1));
      } catch (error) {
        view.note.textContent = failure(error);
      }
      next = view.pending;
    }
    view.running = false;
  }

  // Paints 784 pixels (0 background, 255 ink) onto the pad of `modelId`, 10
  // pad pixels per digit pixel, and predicts; resolves to the answer shown.
  async function drawDigit(modelId, pixels) {
    const view = pads.get(modelId);
    if (!view) {
      throw new Error(`no drawing pad for ${modelId}`);
    }
    const small = document.createElement("canvas");
    small.width = SIDE;
    small.height = SIDE;
    const image = small.getContext("2d").createImageData(SIDE, SIDE);
    pixels.forEach((v, i) => image.data.set([v, v, v, 255], 4 * i));
    small.getContext("2d").putImageData(image, 0, 0);
    view.ctx.imageSmoothingEnabled = false;
    view.ctx.drawImage(small, 0, 0, PAD, PAD);
    const before = Number(view.panel.getAttribute("data-predictions"));
    await classify(view);
    while (view.running) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (Number(view.panel.getAttribute("data-predictions")) === before) {
      throw new Error(view.note.textContent || "no prediction");
    }
    return { predicted: Number(view.predicted.getAttribute("data-class")), version: view.predicted.getAttribute("data-version") };
  }

  // --- a language lineage's sample ---------------------------------------------

  function sampleView(modelId) {
    if (samples.has(modelId)) {
      return samples.get(modelId);
    }
    const text = el("pre", { class: "sample-text", text: "…" });
    const caption = el("p", { class: "sample-caption" });
    const panel = el("div", { class: "sample", "data-model": modelId, "data-version": "" }, [
      el("h4", { text: "A sample from the head" }), text, caption,
    ]);
    const view = { modelId, panel, text, caption, version: null, tried: null };
    samples.set(modelId, view);
    return view;
  }

  // Once per head: a failed try (no predictor, a busy node) waits for the
  // next head rather than asking again every refresh.
  async function refreshSample(view, lineage) {
    const head = String(lineage.head_version);
    if (view.tried === head) {
      return;
    }
    view.tried = head;
    try {
      const answer = await predict(lineage.model_id, { prompt: SAMPLE_PROMPT, tokens: SAMPLE_TOKENS, temperature: 0.8, seed: 0 });
      view.text.textContent = answer.text;
      view.caption.textContent = `version ${answer.version}, ${SAMPLE_TOKENS} bytes at temperature 0.8, seed 0 (${answer.predict_ms} ms on ${answer.device})`;
      view.version = String(answer.version);
      view.panel.setAttribute("data-version", view.version);
    } catch (error) {
      view.caption.textContent = failure(error);
    }
  }

  // The panel of `lineage` (created once, placed before `before` in
  // `section`), refreshed; never throws, so a node without a predictor
  // does not fail the page's refresh.
  async function attach(section, before, lineage) {
    const kind = kindOf(lineage);
    if (kind === "gpt") {
      const view = sampleView(lineage.model_id);
      if (!view.panel.isConnected) {
        section.insertBefore(view.panel, before);
      }
      await refreshSample(view, lineage);
    } else if (kind === "mlp" || kind === "cnn") {
      const view = padView(lineage.model_id);
      if (!view.panel.isConnected) {
        section.insertBefore(view.panel, before);
      }
    }
  }

  window.umUse = Object.freeze({ attach, digitPixels, drawDigit, SIDE, PAD });
})();
