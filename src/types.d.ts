declare module "*.sql" {
  const text: string;
  export default text;
}

declare module "sentiment" {
  export default class Sentiment {
    analyze(text: string): { score: number; comparative: number };
  }
}
