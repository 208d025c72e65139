/**
 * The browser's stand-in for formats/atomic.ts (the viewer's bundle swaps it in; see viewer/bundle.ts):
 * formats/png.ts imports the file writer for `writePng`, which a page never calls; the page saves PNGs
 * through a download link instead.
 */

function noFiles(path: string): never {
  throw new Error(`${path}: a web page cannot write files`);
}

/** Not available in the browser. */
export function tempPathFor(path: string): string {
  return noFiles(path);
}

/** Not available in the browser. */
export function writeFileAtomic(path: string, _data: Uint8Array | string): void {
  noFiles(path);
}
