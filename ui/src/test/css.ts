//! What a component's own stylesheet says about a selector. happy-dom lays nothing out and
//! tests load no component CSS, so a layout promise ("long text wraps", "the name is cut with
//! an ellipsis") is checked in two halves: the element carries the class, and the component's
//! <style> (imported with `?raw`) gives that class the rule.

/**
 * The declarations of every rule in `source`'s <style> whose selector list contains
 * `selector` exactly (`.bubble`, `.meta .who`), later rules winning. Rules nested in
 * `@media` count too.
 */
export function declarations(source: string, selector: string): Record<string, string> {
  const style = /<style[^>]*>([\s\S]*?)<\/style>/.exec(source)?.[1] ?? "";
  const css = style.replace(/\/\*[\s\S]*?\*\//g, "");
  const found: Record<string, string> = {};
  for (const rule of css.matchAll(/([^{}]+)\{([^{}]*)\}/g)) {
    const selectors = rule[1].split(",").map((s) => s.trim().replace(/\s+/g, " "));
    if (!selectors.includes(selector)) continue;
    for (const declaration of rule[2].split(";")) {
      const colon = declaration.indexOf(":");
      if (colon === -1) continue;
      found[declaration.slice(0, colon).trim()] = declaration.slice(colon + 1).trim();
    }
  }
  return found;
}

/** What a line cut with an ellipsis needs: one line, clipped, allowed to shrink in a flex row. */
export const ELLIPSIS = {
  overflow: "hidden",
  "text-overflow": "ellipsis",
  "white-space": "nowrap",
  "min-width": "0",
};
