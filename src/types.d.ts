declare module "*.sql" {
  const text: string;
  export default text;
}

declare module "sentiment/languages/en/labels.json" {
  const labels: Record<string, number>;
  export default labels;
}
