/** The parts of hpack.js (no types of its own) that the lean HTTP/2 client uses (h2.ts). */
declare module "hpack.js" {
  interface Entry {
    name: string;
    value: string;
  }
  interface Table {
    /** Oldest first; index of dynamic[i] is length - i. */
    dynamic: Entry[];
    length: number;
    lookup(index: number): Entry;
    /** > 0: the index of name and value; < 0: minus the index of the name alone; 0: neither. */
    reverseLookup(name: string, value: string): number;
    add(name: string, value: string, nameSize: number, valueSize: number): void;
    updateSize(size: number): void;
  }
  interface Decoder {
    push(chunk: Buffer): void;
    isEmpty(): boolean;
    decodeBit(): number;
    decodeInt(): number;
    decodeStr(): number[];
  }
  interface Encoder {
    encodeBit(bit: number): void;
    encodeInt(value: number): void;
    encodeStr(value: number[], huffman: boolean): void;
    render(): Buffer[];
  }
  const hpack: {
    table: { create(options: { maxSize: number }): Table };
    decoder: { create(): Decoder };
    encoder: { create(): Encoder };
    utils: { stringify(bytes: number[]): string; toArray(text: string): number[] };
  };
  export default hpack;
}
