/**
 * A static model of Bicep templates built from the tree-sitter parse: declarations, resources
 * (nested ones included), modules, and an evaluator that computes what is knowable before
 * deployment (literals, parameters and their defaults, variables, module parameters, lambdas and
 * user-defined functions, local or imported with `import { f } from 'file.bicep'`). Anything
 * only known at deployment time (resource ids, outputs, uniqueString) stays an `Unknown` that
 * remembers its source text, so tests can still check where a value comes from.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseBicep, syntaxProblems, formatProblem, type Node, type Tree } from "./bicep-parser.js";

/** A value known only at deployment time; `text` is its Bicep source or a «placeholder» rendering. */
export class Unknown {
  constructor(readonly text: string) {}
  toString(): string {
    return `«${this.text}»`;
  }
}

export type Value = string | number | boolean | null | Unknown | Value[] | { [key: string]: Value };

export interface Declaration {
  name: string;
  node: Node;
  /** Decorator calls, e.g. `batchSize(1)`, by function name. */
  decorators: Map<string, Node>;
  /** Text of the comment lines directly above the declaration (and its decorators). */
  comment: string;
  line: number;
}

export interface ParamDeclaration extends Declaration {
  typeText: string;
  defaultValue: Node | undefined;
}

export interface ResourceDeclaration extends Declaration {
  /** Full type without the API version, e.g. `Microsoft.Storage/storageAccounts/blobServices`. */
  type: string;
  apiVersion: string;
  body: Node;
  existing: boolean;
  condition: Node | undefined;
  loop: { variable: string; iterable: Node } | undefined;
  parent: ResourceDeclaration | undefined;
}

export interface ModuleDeclaration extends Declaration {
  /** Path of the module file, resolved against the calling file. */
  file: string;
  body: Node;
  condition: Node | undefined;
}

export interface BicepFile {
  file: string;
  source: string;
  params: Map<string, ParamDeclaration>;
  vars: Map<string, Declaration & { value: Node }>;
  resources: ResourceDeclaration[];
  modules: ModuleDeclaration[];
  outputs: Map<string, Declaration & { typeText: string; value: Node }>;
  /** User-defined functions (`func name(a type, ...) type => body`), by name. */
  funcs: Map<string, { params: string[]; body: Node }>;
  /** Names imported with `import { name } from 'file'` (or `name as local`): local name -> the file's model and its name there. */
  imports: Map<string, { model: BicepFile; name: string }>;
}

/** A lambda argument, `x => body` or `(x, i) => body`, as re-parsed by prepareLambdas. */
interface Lambda {
  params: string[];
  body: Node;
}

/**
 * Lambda arguments by tree and source range. tree-sitter-bicep 1.1.0 binds a lambda's head tighter
 * than its body's operators (`d => d.a ?? d.b` comes out as `((d => d).a ?? d).b`), so each lambda
 * argument is split at its `=>` and its body parsed again on its own (see prepareLambdas).
 */
const LAMBDAS = new WeakMap<Tree, Map<string, Lambda>>();
const LAMBDA_HEAD = /^\s*(\(\s*[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*\s*\)|[A-Za-z_]\w*)\s*=>/;

function lambdaKey(node: Node): string {
  return `${node.startIndex}:${node.endIndex}`;
}

/** Finds every lambda argument in `tree` (and in the bodies it parses) and records its parameters and body. */
async function prepareLambdas(tree: Tree): Promise<void> {
  const found = new Map<string, Lambda>();
  LAMBDAS.set(tree, found);
  const pending: Node[] = [tree.rootNode];
  while (pending.length > 0) {
    const node = pending.pop()!;
    if (node.type === "arguments") {
      for (const argument of node.namedChildren) {
        const head = argument ? LAMBDA_HEAD.exec(argument.text) : null;
        if (!argument || !head) continue;
        const params = head[1]!.replace(/[()\s]/g, "").split(",");
        const prefix = "var lambdaBody = ";
        const bodyTree = await parseBicep(`${prefix}${argument.text.slice(head[0].length)}\n`);
        await prepareLambdas(bodyTree);
        const declaration = bodyTree.rootNode.namedChildren.find((c) => c?.type === "variable_declaration");
        const body = declaration ? afterToken(declaration, "=") : undefined;
        if (body) found.set(lambdaKey(argument), { params, body });
        continue;
      }
    }
    for (const child of node.namedChildren) if (child) pending.push(child);
  }
}

function lambdaOf(node: Node): Lambda | undefined {
  return LAMBDAS.get(node.tree)?.get(lambdaKey(node));
}

/**
 * Parses one file into a model.
 * @throws Error naming file:line:column when the file has a syntax error (the model would be wrong).
 */
export async function loadBicepFile(file: string, loading: Map<string, BicepFile> = new Map()): Promise<BicepFile> {
  const loaded = loading.get(file);
  if (loaded) return loaded;
  const source = readFileSync(file, "utf8");
  const tree = await parseBicep(source);
  const problems = syntaxProblems(tree, file, source);
  if (problems.length > 0) {
    throw new Error(`cannot model ${file}: fix its syntax first:\n${problems.map(formatProblem).join("\n")}`);
  }
  await prepareLambdas(tree);
  const model: BicepFile = {
    file,
    source,
    params: new Map(),
    vars: new Map(),
    resources: [],
    modules: [],
    outputs: new Map(),
    funcs: new Map(),
    imports: new Map(),
  };
  loading.set(file, model);
  collectStatements(tree.rootNode.namedChildren, model, undefined);
  for (const statement of tree.rootNode.namedChildren) {
    if (statement?.type !== "import_functionality") continue;
    const imported = await loadBicepFile(path.resolve(path.dirname(file), stringLiteral(namedChildOfType(statement, "string")!)), loading);
    // `{ a, b as c }`: identifiers in order, `as` pairing the one before it with the one after.
    const tokens = statement.children.filter((c): c is Node => !!c && (c.type === "identifier" || c.type === "as"));
    for (let i = 0; i < tokens.length; i++) {
      if (tokens[i]!.type !== "identifier") continue;
      const aliased = tokens[i + 1]?.type === "as";
      const local = aliased ? tokens[i + 2]!.text : tokens[i]!.text;
      model.imports.set(local, { model: imported, name: tokens[i]!.text });
      if (aliased) i += 2;
    }
  }
  return model;
}

function collectStatements(nodes: readonly (Node | null)[], model: BicepFile, parent: ResourceDeclaration | undefined): void {
  let decorators = new Map<string, Node>();
  let comments: string[] = [];
  for (const node of nodes) {
    if (!node) continue;
    if (node.type === "comment") {
      comments.push(node.text.replace(/^\/\/\s?|^\/\*|\*\/$/g, ""));
      continue;
    }
    if (node.type === "decorators") {
      for (const decorator of node.namedChildren) {
        const call = decorator?.namedChildren.find((child) => child?.type === "call_expression");
        const fn = call?.childForFieldName("function");
        if (call && fn) decorators.set(fn.text, call);
      }
      continue;
    }
    const base = { decorators, comment: comments.join("\n"), line: node.startPosition.row + 1, node };
    switch (node.type) {
      case "parameter_declaration": {
        const name = namedChildOfType(node, "identifier")!.text;
        const type = namedChildOfType(node, "type");
        const defaultValue = afterToken(node, "=");
        model.params.set(name, { ...base, name, typeText: type?.text ?? "", defaultValue });
        break;
      }
      case "variable_declaration": {
        const name = namedChildOfType(node, "identifier")!.text;
        model.vars.set(name, { ...base, name, value: afterToken(node, "=")! });
        break;
      }
      case "output_declaration": {
        const name = namedChildOfType(node, "identifier")!.text;
        model.outputs.set(name, { ...base, name, typeText: namedChildOfType(node, "type")?.text ?? "", value: afterToken(node, "=")! });
        break;
      }
      case "resource_declaration":
        addResource(node, base, model, parent);
        break;
      case "user_defined_function": {
        const name = node.childForFieldName("name")!.text;
        const parameters = namedChildOfType(node, "parameters");
        const params = (parameters?.namedChildren ?? [])
          .filter((p): p is Node => p?.type === "parameter")
          .map((p) => namedChildOfType(p, "identifier")!.text);
        const body = afterToken(node, "=>");
        if (body) model.funcs.set(name, { params, body });
        break;
      }
      case "module_declaration": {
        const name = namedChildOfType(node, "identifier")!.text;
        const relative = stringLiteral(namedChildOfType(node, "string")!);
        const { body, condition } = declarationBody(node);
        model.modules.push({ ...base, name, file: path.resolve(path.dirname(model.file), relative), body, condition });
        break;
      }
      default:
        break;
    }
    decorators = new Map();
    comments = [];
  }
}

function addResource(node: Node, base: Omit<Declaration, "name">, model: BicepFile, parent: ResourceDeclaration | undefined): void {
  const name = namedChildOfType(node, "identifier")!.text;
  const typeLiteral = stringLiteral(namedChildOfType(node, "string")!);
  const [typePart = "", apiVersion = parent?.apiVersion ?? ""] = typeLiteral.split("@");
  const type = parent && !typePart.includes(".") ? `${parent.type}/${typePart}` : typePart;
  const { body, condition, loop } = declarationBody(node);
  const existing = node.children.some((child) => child?.type === "existing");
  const resource: ResourceDeclaration = { ...base, name, type, apiVersion, body, existing, condition, loop, parent };
  model.resources.push(resource);
  // Nested child resources are object properties of the body.
  const nested = body.namedChildren
    .filter((child): child is Node => child?.type === "object_property")
    .map((property) => property.namedChildren)
    .filter((children) => children.some((c) => c?.type === "resource_declaration"))
    .flat();
  collectStatements(nested, model, resource);
}

function declarationBody(node: Node): { body: Node; condition: Node | undefined; loop: ResourceDeclaration["loop"] } {
  const direct = namedChildOfType(node, "object");
  if (direct) return { body: direct, condition: undefined, loop: undefined };
  const ifStatement = namedChildOfType(node, "if_statement");
  if (ifStatement) {
    const condition = namedChildOfType(ifStatement, "parenthesized_expression")!.namedChildren[0]!;
    return { body: namedChildOfType(ifStatement, "object")!, condition, loop: undefined };
  }
  const forStatement = namedChildOfType(node, "for_statement")!;
  const variable = forStatement.childForFieldName("initializer")!.text;
  let body = forStatement.childForFieldName("body")!;
  let condition: Node | undefined;
  if (body.type === "if_statement") {
    condition = namedChildOfType(body, "parenthesized_expression")!.namedChildren[0]!;
    body = namedChildOfType(body, "object")!;
  }
  const iterable = forStatement.namedChildren.filter((c): c is Node => !!c && c.type !== "for_loop_parameters")[1]!;
  return { body, condition, loop: { variable, iterable } };
}

function namedChildOfType(node: Node, type: string): Node | undefined {
  return node.namedChildren.find((child): child is Node => child?.type === type);
}

/** The named node after a token such as `=`. */
function afterToken(node: Node, token: string): Node | undefined {
  let seen = false;
  for (const child of node.children) {
    if (!child) continue;
    if (seen && child.isNamed && child.type !== "comment") return child;
    if (!child.isNamed && child.type === token) seen = true;
  }
  return undefined;
}

/** The text of a string literal without interpolation. @throws Error when it has interpolation. */
export function stringLiteral(node: Node): string {
  if (node.type !== "string") throw new Error(`expected a string literal, got ${node.type}: ${node.text}`);
  if (node.namedChildren.some((child) => child?.type === "interpolation")) {
    throw new Error(`expected a string without interpolation: ${node.text}`);
  }
  return node.namedChildren.map((child) => (child?.type === "escape_sequence" ? unescape(child.text) : (child?.text ?? ""))).join("");
}

function unescape(sequence: string): string {
  const map: Record<string, string> = { "\\'": "'", "\\\\": "\\", "\\n": "\n", "\\r": "\r", "\\t": "\t", "\\$": "$" };
  return map[sequence] ?? sequence;
}

/** Key and value nodes of an object literal (nested resource declarations are left out). */
export function objectEntries(node: Node): [string, Node][] {
  if (node.type !== "object") return [];
  const entries: [string, Node][] = [];
  for (const property of node.namedChildren) {
    if (property?.type !== "object_property") continue;
    const children = property.namedChildren.filter((c): c is Node => !!c && c.type !== "comment");
    const [keyNode, valueNode] = children;
    if (!keyNode || !valueNode || valueNode.type === "resource_declaration" || keyNode.type === "resource_declaration") continue;
    const key = keyNode.type === "string" ? stringLiteral(keyNode) : keyNode.text;
    entries.push([key, valueNode]);
  }
  return entries;
}

/** The value node at a dotted path in an object literal, matching keys case-insensitively as ARM does. */
export function propertyNode(node: Node | undefined, dottedPath: string): Node | undefined {
  let current = node;
  for (const key of dottedPath.split(".")) {
    if (!current) return undefined;
    current = objectEntries(current).find(([name]) => name.toLowerCase() === key.toLowerCase())?.[1];
  }
  return current;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

export interface Scope {
  model: BicepFile;
  /** Values of the file's parameters (from the caller or the defaults). */
  params: Record<string, Value>;
  locals?: Record<string, Value>;
  /** Directory that loadJsonContent() paths are relative to. */
  varCache?: Map<string, Value>;
}

/** The scope of a top-level file: parameters from `overrides`, else their defaults. */
export function fileScope(model: BicepFile, overrides: Record<string, Value> = {}): Scope {
  const scope: Scope = { model, params: {}, varCache: new Map() };
  for (const [name, param] of model.params) {
    if (name in overrides) scope.params[name] = overrides[name]!;
    else if (param.defaultValue) scope.params[name] = evaluate(param.defaultValue, scope);
    else scope.params[name] = new Unknown(`param ${name} (no default, not given)`);
  }
  return scope;
}

/**
 * The parameter values a module call passes, evaluated in the caller's scope.
 * @throws Error when the call has no `params` object.
 */
export function moduleArguments(call: ModuleDeclaration, callerScope: Scope): Record<string, Value> {
  const params = propertyNode(call.body, "params");
  if (!params) return {};
  return Object.fromEntries(objectEntries(params).map(([key, value]) => [key, evaluate(value, callerScope)]));
}

export function evaluate(node: Node, scope: Scope): Value {
  switch (node.type) {
    case "string":
      return evaluateString(node, scope);
    case "number":
      return Number(node.text);
    case "boolean":
      return node.text === "true";
    case "null":
      return null;
    case "object": {
      const result: Record<string, Value> = {};
      for (const [key, value] of objectEntries(node)) result[key] = evaluate(value, scope);
      return result;
    }
    case "array":
      return node.namedChildren
        .filter((c): c is Node => !!c && c.type !== "comment" && c.type !== "decorators")
        .map((c) => evaluate(c, scope));
    case "parenthesized_expression":
      return evaluate(node.namedChildren[0]!, scope);
    case "identifier":
      return evaluateIdentifier(node.text, scope);
    case "member_expression": {
      const object = node.childForFieldName("object")!;
      // `a && b.c` comes out of the grammar as `(a && b).c`: re-associate the whole chain.
      if (object.type === "binary_expression") return evaluateOperatorChain(node, scope);
      const target = evaluate(object, scope);
      const property = node.childForFieldName("property")!.text;
      // `a.?b` is null when a has no b (or a is null).
      if (node.children.some((c) => c?.type === ".?") && (target === null || (isPlainObject(target) && !(property in target)))) return null;
      return member(target, property, node.text);
    }
    case "subscript_expression": {
      const target = evaluate(node.childForFieldName("object")!, scope);
      const index = evaluate(node.childForFieldName("index")!, scope);
      if (Array.isArray(target) && typeof index === "number" && index in target) return target[index]!;
      if (isPlainObject(target) && typeof index === "string" && index in target) return target[index]!;
      return new Unknown(node.text);
    }
    case "ternary_expression": {
      const condition = evaluate(node.childForFieldName("condition")!, scope);
      if (typeof condition !== "boolean") return new Unknown(node.text);
      return evaluate(node.childForFieldName(condition ? "consequence" : "alternative")!, scope);
    }
    case "unary_expression": {
      const operator = node.childForFieldName("operator")!.text;
      const argument = evaluate(node.childForFieldName("argument")!, scope);
      if (operator === "!" && typeof argument === "boolean") return !argument;
      if (operator === "-" && typeof argument === "number") return -argument;
      return new Unknown(node.text);
    }
    case "binary_expression":
      return evaluateOperatorChain(node, scope);
    case "call_expression":
      return evaluateCall(node, scope);
    default:
      return new Unknown(node.text);
  }
}

function evaluateString(node: Node, scope: Scope): Value {
  const parts: Value[] = [];
  for (const child of node.namedChildren) {
    if (!child) continue;
    if (child.type === "string_content") parts.push(child.text);
    else if (child.type === "escape_sequence") parts.push(unescape(child.text));
    else if (child.type === "interpolation") parts.push(evaluate(child.namedChildren[0]!, scope));
  }
  if (parts.every((part) => typeof part === "string" || typeof part === "number" || typeof part === "boolean")) {
    return parts.map(String).join("");
  }
  return new Unknown(
    parts.map((part) => (part instanceof Unknown ? part.toString() : typeof part === "string" ? part : JSON.stringify(part))).join(""),
  );
}

function evaluateIdentifier(name: string, scope: Scope): Value {
  if (scope.locals && name in scope.locals) return scope.locals[name]!;
  if (name in scope.params) return scope.params[name]!;
  const variable = scope.model.vars.get(name);
  if (variable) {
    const cache = (scope.varCache ??= new Map());
    if (!cache.has(name)) {
      cache.set(name, new Unknown(`var ${name} (cycle)`));
      cache.set(name, evaluate(variable.value, { ...scope, locals: undefined }));
    }
    return cache.get(name)!;
  }
  return new Unknown(name);
}

/*
 * tree-sitter-bicep 1.1.0 gets the precedence of binary operators against member access wrong
 * (`a || b.c == d` parses as `((a || b).c) == d`). So a chain of binary operators is flattened
 * back into operands and operators in source order and re-associated with Bicep's precedence.
 */
type Piece = { operand: Node; members: string[] } | { operator: string };
type Expression = { operand: Node; members: string[] } | { operator: string; left: Expression; right: Expression };

const PRECEDENCE: Readonly<Record<string, number>> = {
  "*": 6,
  "/": 6,
  "%": 6,
  "+": 5,
  "-": 5,
  "<": 4,
  ">": 4,
  "<=": 4,
  ">=": 4,
  "==": 3,
  "!=": 3,
  "=~": 3,
  "!~": 3,
  "&&": 2,
  "||": 1,
  "??": 0,
};

function flatten(node: Node, pieces: Piece[]): void {
  if (node.type === "binary_expression") {
    flatten(node.childForFieldName("left")!, pieces);
    pieces.push({ operator: node.childForFieldName("operator")!.text });
    flatten(node.childForFieldName("right")!, pieces);
    return;
  }
  const object = node.childForFieldName("object");
  if (node.type === "member_expression" && object?.type === "binary_expression") {
    flatten(object, pieces);
    const last = pieces.at(-1);
    if (last && "operand" in last) last.members.push(node.childForFieldName("property")!.text);
    return;
  }
  pieces.push({ operand: node, members: [] });
}

function associate(pieces: Piece[], position: { index: number }, minimum: number): Expression {
  const first = pieces[position.index++];
  if (!first || !("operand" in first)) throw new Error("malformed operator chain");
  let left: Expression = first;
  for (;;) {
    const next = pieces[position.index];
    if (!next || !("operator" in next)) return left;
    const precedence = PRECEDENCE[next.operator] ?? 0;
    if (precedence < minimum) return left;
    position.index++;
    // Left-associative, except ?? which is right-associative.
    const right = associate(pieces, position, next.operator === "??" ? precedence : precedence + 1);
    left = { operator: next.operator, left, right };
  }
}

function expressionText(expression: Expression): string {
  if ("operand" in expression) return [expression.operand.text, ...expression.members].join(".");
  return `${expressionText(expression.left)} ${expression.operator} ${expressionText(expression.right)}`;
}

function evaluateOperatorChain(node: Node, scope: Scope): Value {
  const pieces: Piece[] = [];
  flatten(node, pieces);
  return evaluateExpression(associate(pieces, { index: 0 }, 0), scope);
}

function evaluateExpression(expression: Expression, scope: Scope): Value {
  if ("operand" in expression) {
    let value = evaluate(expression.operand, scope);
    let text = expression.operand.text;
    for (const property of expression.members) {
      text = `${text}.${property}`;
      value = member(value, property, text);
    }
    return value;
  }
  const { operator } = expression;
  const left = evaluateExpression(expression.left, scope);
  // The right side is evaluated only when needed, as ARM does.
  if (operator === "&&" && left === false) return false;
  if (operator === "||" && left === true) return true;
  if (operator === "??" && left !== null && !(left instanceof Unknown)) return left;
  const right = evaluateExpression(expression.right, scope);
  if (left instanceof Unknown || right instanceof Unknown) {
    if (operator === "&&" && right === false) return false;
    if (operator === "||" && right === true) return true;
    return new Unknown(expressionText(expression));
  }
  switch (operator) {
    case "==":
      return JSON.stringify(left) === JSON.stringify(right);
    case "!=":
      return JSON.stringify(left) !== JSON.stringify(right);
    case "&&":
      return left === true && right === true;
    case "||":
      return left === true || right === true;
    case "??":
      return left ?? right;
    default:
      if (typeof left !== "number" || typeof right !== "number") return new Unknown(expressionText(expression));
      switch (operator) {
        case "+":
          return left + right;
        case "-":
          return left - right;
        case "*":
          return left * right;
        case "/":
          return Math.trunc(left / right);
        case "%":
          return left % right;
        case "<":
          return left < right;
        case ">":
          return left > right;
        case "<=":
          return left <= right;
        case ">=":
          return left >= right;
        default:
          return new Unknown(expressionText(expression));
      }
  }
}

function member(target: Value, property: string, text: string): Value {
  if (isPlainObject(target) && property in target) return target[property]!;
  return new Unknown(text);
}

/** Calls a lambda argument with `values` bound to its parameters, seeing the caller's locals. */
function callLambda(lambda: Lambda, values: Value[], scope: Scope): Value {
  const locals: Record<string, Value> = { ...scope.locals };
  lambda.params.forEach((name, i) => (locals[name] = values[i] ?? null));
  return evaluate(lambda.body, { ...scope, locals });
}

/** A user-defined function of the scope's file, local or imported, with the file it is declared in. */
function userFunction(name: string, model: BicepFile): { model: BicepFile; params: string[]; body: Node } | undefined {
  const local = model.funcs.get(name);
  if (local) return { model, ...local };
  const imported = model.imports.get(name);
  return imported ? userFunction(imported.name, imported.model) : undefined;
}

/** Renders a value as JSON, with each Unknown as the string «its source», for string() of a partly known value. */
function jsonWithPlaceholders(value: Value): string {
  // An interpolated string with deploy-time parts already marks them («...»).
  if (value instanceof Unknown) return JSON.stringify(value.text.includes("«") ? value.text : value.toString());
  if (Array.isArray(value)) return `[${value.map(jsonWithPlaceholders).join(",")}]`;
  if (isPlainObject(value))
    return `{${Object.entries(value)
      .map(([key, item]) => `${JSON.stringify(key)}:${jsonWithPlaceholders(item)}`)
      .join(",")}}`;
  return JSON.stringify(value);
}

/** Functions whose arguments include lambdas, evaluated over known arrays. */
function evaluateLambdaCall(fn: string, argumentNodes: Node[], scope: Scope, text: string): Value {
  const lambdas = argumentNodes.map(lambdaOf);
  const source = evaluate(argumentNodes[0]!, scope);
  if (!Array.isArray(source) || lambdas.slice(1).some((l) => !l)) return new Unknown(text);
  const [, first, second] = lambdas;
  switch (fn) {
    case "map":
      return source.map((item, i) => callLambda(first!, [item, i], scope));
    case "filter": {
      const kept: Value[] = [];
      for (const [i, item] of source.entries()) {
        const keep = callLambda(first!, [item, i], scope);
        if (typeof keep !== "boolean") return new Unknown(text);
        if (keep) kept.push(item);
      }
      return kept;
    }
    case "toObject": {
      const result: Record<string, Value> = {};
      for (const item of source) {
        const key = callLambda(first!, [item], scope);
        if (typeof key !== "string") return new Unknown(text);
        // ARM refuses keys that are equal without regard to case.
        if (Object.keys(result).some((k) => k.toLowerCase() === key.toLowerCase())) return new Unknown(`${text} (duplicate key '${key}')`);
        result[key] = second ? callLambda(second, [item], scope) : item;
      }
      return result;
    }
    default:
      return new Unknown(text);
  }
}

function evaluateCall(node: Node, scope: Scope): Value {
  const fnNode = node.childForFieldName("function")!;
  const fn = fnNode.text.replace(/^(az|sys)\./, "");
  const argumentNodes = node.childForFieldName("arguments")?.namedChildren.filter((c): c is Node => !!c && c.type !== "comment") ?? [];
  if (["map", "filter", "toObject"].includes(fn)) return evaluateLambdaCall(fn, argumentNodes, scope, node.text);
  const args = argumentNodes.map((arg) => evaluate(arg, scope));
  const known = !args.some(containsUnknown);
  const udf = userFunction(fn, scope.model);
  if (udf) {
    // A function sees only its parameters (and other functions of its file).
    const locals = Object.fromEntries(udf.params.map((name, i) => [name, args[i] ?? null]));
    const result = evaluate(udf.body, { model: udf.model, params: {}, locals, varCache: new Map() });
    if (!(result instanceof Unknown)) return result;
    // Unknown because an argument is: name it by the call, e.g. trimEndpoint(openAiAccess.outputs.endpoint).
    return new Unknown(`${fn}(${args.map((a) => (a instanceof Unknown ? a.text : JSON.stringify(a))).join(", ")})`);
  }
  switch (fn) {
    case "concat":
      if (args.every(Array.isArray)) return args.flat(1);
      if (args.every((a) => typeof a === "string" || typeof a === "number")) return args.join("");
      return new Unknown(node.text);
    case "flatten":
      return Array.isArray(args[0]) && args[0].every(Array.isArray) ? args[0].flat(1) : new Unknown(node.text);
    case "first":
      if (Array.isArray(args[0])) return args[0][0] ?? null;
      return typeof args[0] === "string" ? args[0].slice(0, 1) : new Unknown(node.text);
    case "contains":
      if (Array.isArray(args[0]) && !(args[1] instanceof Unknown))
        return args[0].some((item) => JSON.stringify(item) === JSON.stringify(args[1]));
      if (typeof args[0] === "string" && typeof args[1] === "string") return args[0].includes(args[1]);
      if (isPlainObject(args[0]) && typeof args[1] === "string") return args[1] in args[0];
      return new Unknown(node.text);
    case "empty":
      if (args[0] instanceof Unknown) return new Unknown(node.text);
      return (
        args[0] === null ||
        args[0] === "" ||
        (Array.isArray(args[0]) && args[0].length === 0) ||
        (isPlainObject(args[0]) && Object.keys(args[0]).length === 0)
      );
    case "union":
      // Arrays: every element once, in order of first appearance.
      if (args.every(Array.isArray) && known) {
        const seen = new Set<string>();
        return args.flat(1).filter((item) => !seen.has(JSON.stringify(item)) && !!seen.add(JSON.stringify(item)));
      }
      if (args.every(isPlainObject)) return Object.assign({}, ...args);
      if (args.every((arg) => isPlainObject(arg) || arg instanceof Unknown)) {
        // Keys of the known objects survive; unknown ones can only add or override.
        return Object.assign({}, ...args.filter(isPlainObject));
      }
      return new Unknown(node.text);
    case "string":
      if (known) return typeof args[0] === "string" ? args[0] : JSON.stringify(args[0]);
      // An object or array with deploy-time parts: its JSON, each part a «placeholder» (appSettingsAsEnvironment fills in samples).
      return Array.isArray(args[0]) || isPlainObject(args[0]) ? new Unknown(jsonWithPlaceholders(args[0]!)) : new Unknown(node.text);
    case "min":
    case "max": {
      // min(a, b, ...) or min([a, b, ...]), as Bicep has both forms.
      const numbers = args.length === 1 && Array.isArray(args[0]) ? args[0] : args;
      if (!known || !numbers.every((n): n is number => typeof n === "number")) return new Unknown(node.text);
      return fn === "min" ? Math.min(...numbers) : Math.max(...numbers);
    }
    case "toLower":
      return known && typeof args[0] === "string" ? args[0].toLowerCase() : new Unknown(node.text);
    case "toUpper":
      return known && typeof args[0] === "string" ? args[0].toUpperCase() : new Unknown(node.text);
    case "endsWith":
      return known && typeof args[0] === "string" && typeof args[1] === "string" ? args[0].endsWith(args[1]) : new Unknown(node.text);
    case "startsWith":
      return known && typeof args[0] === "string" && typeof args[1] === "string" ? args[0].startsWith(args[1]) : new Unknown(node.text);
    case "length":
      return known && (typeof args[0] === "string" || Array.isArray(args[0])) ? args[0].length : new Unknown(node.text);
    case "take":
      return known && typeof args[0] === "string" && typeof args[1] === "number" ? args[0].slice(0, args[1]) : new Unknown(node.text);
    case "substring":
      return known && typeof args[0] === "string" && typeof args[1] === "number"
        ? args[0].substring(args[1], typeof args[2] === "number" ? args[1] + args[2] : undefined)
        : new Unknown(node.text);
    case "loadJsonContent": {
      if (typeof args[0] !== "string") return new Unknown(node.text);
      return JSON.parse(readFileSync(path.resolve(path.dirname(scope.model.file), args[0]), "utf8")) as Value;
    }
    default:
      return new Unknown(node.text);
  }
}

export function isPlainObject(value: Value | undefined): value is { [key: string]: Value } {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Unknown);
}

export function containsUnknown(value: Value): boolean {
  if (value instanceof Unknown) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (isPlainObject(value)) return Object.values(value).some(containsUnknown);
  return false;
}
