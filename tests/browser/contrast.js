// Every visible element with its own text: its colour against the first opaque background
// behind it (WCAG 2 relative luminance). Run in the page by WebDriver (CSP does not apply).
const channel = (c) => {
  const s = c / 255;
  return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
};
const rgba = (text) => {
  const m = text.match(/rgba?\(([^)]+)\)/);
  if (!m) return null;
  const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
  return { r, g, b, a };
};
const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
const background = (el) => {
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    const c = rgba(getComputedStyle(node).backgroundColor);
    if (c && c.a >= 1) return c;
  }
  return { r: 255, g: 255, b: 255, a: 1 };
};
const report = [];
for (const el of document.body.querySelectorAll("*")) {
  const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own || !el.getClientRects().length) continue;
  const style = getComputedStyle(el);
  if (style.visibility === "hidden" || style.display === "none") continue;
  const isSvg = el instanceof SVGElement;
  const fg = rgba(isSvg ? style.fill : style.color);
  const bg = background(isSvg ? el.ownerSVGElement.parentElement : el);
  const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
  report.push({ text: el.textContent.trim().slice(0, 40), ratio: (hi + 0.05) / (lo + 0.05) });
}
return report;
