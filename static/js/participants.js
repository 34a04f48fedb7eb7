// The participant list: a box in the table's head ticks or clears every row of the page for
// badge printing. Without JavaScript the box stays hidden and rows are ticked one by one.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("pick-page");
  if (!all) return;
  const rows = () => [...document.querySelectorAll('input[name="ids"]:not([disabled])')];
  if (!rows().length) return;
  const sync = () => {
    const ticked = rows().filter((box) => box.checked).length;
    all.checked = ticked === rows().length;
    all.indeterminate = ticked > 0 && ticked < rows().length;
  };
  all.hidden = false;
  all.addEventListener("change", () => {
    rows().forEach((box) => { box.checked = all.checked; });
    sync();
  });
  rows().forEach((box) => box.addEventListener("change", sync));
  sync();
});
