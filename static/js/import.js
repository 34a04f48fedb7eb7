/* The participant import (templates/imports/).
 *
 * Upload page: a file over the size limit is refused before it is sent.
 *
 * Import page: while the job runs, post "next batch" to #import-run[data-batch-url] again and
 * again (CSRF token in X-CSRFToken), moving the progress bar and the counts with each answer,
 * until the job is done; then reload, so the server shows the final summary. A batch that
 * another tab or process is running answers `busy`: wait a moment and ask again. A lost
 * connection is retried with growing pauses; the "Continue importing" button stays as the
 * way to carry on without this script. The job's state is on the server, so a reload simply
 * carries on.
 */
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ upload: the size limit
  const sizeError = $("file-size-error");
  const fileInput = document.querySelector("#upload-form input[type=file]");
  if (sizeError && fileInput) {
    const maxBytes = Number(sizeError.dataset.maxBytes);
    const tooLarge = () => fileInput.files.length > 0 && fileInput.files[0].size > maxBytes;
    const check = () => {
      const refuse = tooLarge();
      sizeError.hidden = !refuse;
      sizeError.textContent = refuse
        ? `This file is larger than ${Math.floor(maxBytes / 1048576)} MB. Split it into smaller files and import each.`
        : "";
      if (refuse) fileInput.setAttribute("aria-invalid", "true");
      else fileInput.removeAttribute("aria-invalid");
      return !refuse;
    };
    fileInput.addEventListener("change", check);
    $("upload-form").addEventListener("submit", (event) => {
      if (!check()) {
        event.preventDefault();
        fileInput.focus();
      }
    });
  }

  // ------------------------------------------------------------------ import: the batches
  const run = $("import-run");
  if (!run || run.dataset.status !== "running") return;

  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const bar = $("import-progress");
  const text = $("progress-text");
  const problem = $("progress-error");
  const continueForm = $("continue-form");
  const BUSY_WAIT_MS = 1000;
  const RETRY_MS = [1000, 2000, 5000, 10000, 30000];
  const format = (n) => Number(n).toLocaleString("en-GB");
  let failures = 0;

  const show = (state) => {
    bar.max = Math.max(state.total, 1);
    bar.value = state.done;
    const percent = state.total ? Math.floor((100 * state.done) / state.total) : 100;
    bar.textContent = `${percent}%`;
    text.textContent = `${format(state.done)} of ${format(state.total)} rows imported (${percent}%).`;
    for (const key of ["created", "updated", "unchanged", "errors"]) {
      $(`count-${key}`).textContent = format(state[key]);
    }
  };

  const trouble = (message) => {
    problem.textContent = message;
    problem.hidden = !message;
    continueForm.hidden = !message;
  };

  const step = async () => {
    let response;
    try {
      response = await fetch(run.dataset.batchUrl, {
        method: "POST",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken },
        credentials: "same-origin",
      });
    } catch (error) {
      response = null;
    }
    if (response && response.ok) {
      failures = 0;
      trouble("");
      const state = await response.json();
      show(state);
      if (state.busy) text.textContent += " Another window is importing this file just now; waiting for it…";
      if (state.status !== "running") {
        text.textContent = "Done. Loading the summary…";
        window.location.reload();
        return;
      }
      window.setTimeout(step, state.busy ? BUSY_WAIT_MS : 0);
      return;
    }
    if (response && [400, 401, 403].includes(response.status)) {
      trouble("The import stopped: you are no longer signed in, or this page is too old. Reload the page to carry on.");
      return;
    }
    const wait = RETRY_MS[Math.min(failures, RETRY_MS.length - 1)];
    failures += 1;
    trouble(`The server did not answer. Trying again in ${wait / 1000} s; nothing is lost.`);
    window.setTimeout(step, wait);
  };

  continueForm.hidden = true;
  step();
})();
