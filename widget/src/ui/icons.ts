// Inline SVG icons built with createElementNS (no HTML parsing anywhere in the widget).
function icon(d: string): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}

export const chatIcon = () => icon("M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
export const closeIcon = () => icon("M6 5l13 13-1 1L5 6zm12 0l1 1L6 19l-1-1z");
export const sendIcon = () => icon("M3 20v-6l9-2-9-2V4l19 8z");
export const clipIcon = () => icon("M16 6v10a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10a1 1 0 0 1-2 0V6H9.5v9a2.5 2.5 0 0 0 5 0V5a4 4 0 0 0-8 0v11a5.5 5.5 0 0 0 11 0V6z");
