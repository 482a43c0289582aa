# One container: the server, its data folder as a volume. Same start command as outside Docker.
FROM oven/bun:1.4.5-debian
WORKDIR /app
COPY package.json package-lock.json ./
RUN bun install --frozen-lockfile --production
COPY src ./src
COPY views ./views
COPY public ./public
ENV HUBBUB_DATA_DIR=/data HUBBUB_PORT=4000
VOLUME /data
EXPOSE 4000
CMD ["bun", "src/cli.ts", "serve"]
