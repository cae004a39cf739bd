// "Select all" for bulk actions. The box `[data-select-all]` toggles every `input[type=checkbox][name=ids]`
// of the same form; forms cannot nest, so a bulk form outside the table gathers its row boxes (and the
// select-all box) through their `form="<id>"` attribute. Without a form: the boxes of the closest table.
// `data-select-all="<form id>"` names the form explicitly; `[data-selected-count]` in it shows "N ausgewählt".

const ROW_BOXES = "input[type=checkbox][name=ids]";

export function init(root) {
  for (const master of root.querySelectorAll("[data-select-all]")) {
    if (master.dataset.selectAllReady) continue;
    master.dataset.selectAllReady = "1";
    enhance(master);
  }
}

function ownerForm(master) {
  const named = master.dataset.selectAll;
  return (named && document.getElementById(named)) || master.form || null;
}

function rowBoxes(master) {
  const form = ownerForm(master);
  if (form) {
    const boxes = Array.from(form.elements).filter((element) => element.matches(ROW_BOXES));
    if (boxes.length) return boxes;
  }
  const scope = master.closest("table") || master.closest("form") || document;
  return Array.from(scope.querySelectorAll(ROW_BOXES));
}

function enhance(master) {
  const sync = () => {
    const boxes = rowBoxes(master);
    const checked = boxes.filter((box) => box.checked).length;
    master.checked = boxes.length > 0 && checked === boxes.length;
    master.indeterminate = checked > 0 && checked < boxes.length;
    const counter = ownerForm(master)?.querySelector("[data-selected-count]");
    if (counter) counter.textContent = `${checked} ausgewählt`;
  };
  master.addEventListener("change", () => {
    for (const box of rowBoxes(master)) {
      if (!box.disabled) box.checked = master.checked;
    }
    sync();
  });
  document.addEventListener("change", (event) => {
    if (event.target !== master && event.target.matches?.(ROW_BOXES)) sync();
  });
  sync();
}
