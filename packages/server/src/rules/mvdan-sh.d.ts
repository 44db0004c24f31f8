// The parts of mvdan-sh (the JavaScript build of mvdan/sh's syntax package) that Shell.ts uses.
declare module "mvdan-sh" {
  export interface Pos {
    Offset(): number
  }
  export interface Node {
    Pos(): Pos
    End(): Pos
    readonly [field: string]: any
  }
  export interface Parser {
    Parse(source: string, name: string): Node
  }
  export const syntax: {
    NewParser(...options: ReadonlyArray<unknown>): Parser
    NodeType(node: Node): string
    Walk(node: Node, visit: (node: Node | null) => boolean): void
  }
  const sh: { readonly syntax: typeof syntax }
  export default sh
}
